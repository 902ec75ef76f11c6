#include "ui-helper/self_signed.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <memory>

#include "common/atomic_file.h"

namespace safegate::ui {

namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string drain(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

bool addExtension(X509* x, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(x, ext.get(), -1) == 1;
}

}  // namespace

Status ensureSelfSignedCertificate(const std::filesystem::path& cert,
                                   const std::filesystem::path& key, const std::string& address) {
  std::error_code ec;
  const bool have_cert = std::filesystem::exists(cert, ec);
  const bool have_key = std::filesystem::exists(key, ec);
  if (have_cert && have_key) return Status::ok();
  if (have_cert != have_key) {
    return Status::invalid((have_cert ? key : cert).string() + " is missing while " +
                           (have_cert ? cert : key).string() +
                           " exists; give both (ui.dashboard_cert, ui.dashboard_key) or neither");
  }
  Owned<EVP_PKEY> pkey(EVP_EC_gen("P-256"));
  Owned<X509> x(X509_new());
  if (!pkey || !x) return Status::internal("cannot make a key (OpenSSL)");
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return Status::internal("no randomness");
  serial[0] &= 0x7f;  // a positive serial number
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_set_version(x.get(), 2);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 825L * 24 * 3600);
  X509_set_pubkey(x.get(), pkey.get());
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("safegate dashboard"), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);
  std::string names = "DNS:localhost";
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') {
    names += std::string(",DNS:") + host;
  }
  if (!address.empty() && address != "0.0.0.0" && address != "::") names += ",IP:" + address;
  if (!addExtension(x.get(), NID_subject_alt_name, names) ||
      !addExtension(x.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !addExtension(x.get(), NID_ext_key_usage, "serverAuth") ||
      X509_sign(x.get(), pkey.get(), EVP_sha256()) == 0) {
    return Status::internal("cannot make the certificate (OpenSSL)");
  }
  Owned<BIO> key_pem(BIO_new(BIO_s_mem())), cert_pem(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(key_pem.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_pem.get(), x.get()) != 1) {
    return Status::internal("cannot encode the certificate (OpenSSL)");
  }
  // Both or neither: a key left without its certificate would block every later start.
  if (Status s = writeFileAtomically(key, drain(key_pem.get()), 0600); !s) return s;
  if (Status s = writeFileAtomically(cert, drain(cert_pem.get()), 0644); !s) {
    std::filesystem::remove(key, ec);
    return s;
  }
  return Status::ok();
}

}  // namespace safegate::ui
