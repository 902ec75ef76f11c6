// Fuzz target for what a list subscription reads from the network and from state_dir.
// The first byte picks the parser, the rest is its input:
//   0  gunzip (daemon/lists/list_fetcher.h): never more than the cap, never a crash on a cut or
//      corrupt stream
//   1  a .minisig file verified over a fixed list with a fixed key (daemon/lists/list_signature.h):
//      only the vectors of tests/support/minisign_vectors.h can verify; a verified comment is
//      the file's third line
//   2  a minisign public key: a parsed key is 32 bytes whose ID is in the text's base64
//   3  a list record, lists/NAME.json (daemon/lists/list_store.h): a record that loads keeps its
//      `good` version only when the copy matches its digest, and survives save and load
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/lists/list_fetcher.h"
#include "daemon/lists/list_signature.h"
#include "daemon/lists/list_store.h"
#include "tests/fuzz/scratch_dir.h"
#include "tests/support/minisign_vectors.h"

namespace fs = std::filesystem;
namespace mv = safegate::testing::minisign;

namespace {

constexpr size_t kCap = 1 << 20;

void gunzipCase(std::string_view in) {
  auto out = safegate::gunzip(in, kCap, "https://fuzz.example/l.gz");
  if (out && out->size() > kCap) std::abort();
  if (!out && out.status().message().find("https://fuzz.example/l.gz") == std::string::npos) {
    std::abort();
  }
}

void signatureCase(std::string_view in) {
  static const safegate::MinisignPublicKey key = *safegate::parseMinisignPublicKey(mv::kPublicKeyA);
  auto comment = safegate::verifyMinisign(key, mv::kList, in);
  if (comment && in.find("trusted comment: " + *comment) == std::string_view::npos) std::abort();
}

void publicKeyCase(std::string_view in) {
  auto key = safegate::parseMinisignPublicKey(in);
  if (!key) return;
  if (safegate::minisignKeyIdHex(key->key_id).size() != 16) std::abort();
}

void recordCase(std::string_view in) {
  const fs::path dir = fuzzScratchDir();
  for (const auto& e : fs::directory_iterator(dir)) fs::remove(e.path());
  const std::string copy = "a.example\nb.example\n";
  std::ofstream(dir / "x.json", std::ios::binary)
      .write(in.data(), static_cast<std::streamsize>(in.size()));
  std::ofstream(dir / "x.list", std::ios::binary) << copy;
  const safegate::ListStore store(dir);
  auto loaded = store.load("x");
  if (!loaded || !loaded->has_value()) return;
  const safegate::ListRecord& r = **loaded;
  if (r.name != "x") std::abort();
  if (r.good && r.copy_sha256 != safegate::sha256Hex(copy)) std::abort();
  if (!store.saveRecord(r)) std::abort();
  auto again = store.load("x");
  if (!again || !again->has_value()) std::abort();
  const safegate::ListRecord& b = **again;
  if (b.url != r.url || b.entries != r.entries || b.last_error != r.last_error ||
      b.next_refresh_unix_ms != r.next_refresh_unix_ms ||
      b.good.has_value() != r.good.has_value() || b.quarantined.size() != r.quarantined.size()) {
    std::abort();
  }
  if (r.good && (b.good->sha256 != r.good->sha256 || b.good->etag != r.good->etag ||
                 b.good->signed_by != r.good->signed_by)) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 256 * 1024) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: gunzipCase(in); break;
    case 1: signatureCase(in); break;
    case 2: publicKeyCase(in); break;
    default: recordCase(in); break;
  }
  return 0;
}
