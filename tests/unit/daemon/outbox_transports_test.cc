// E-mail (SMTP with STARTTLS or SMTPS, to Debian's aiosmtpd) and syslog (RFC 5424 over TCP and
// TLS, RFC 5425 framing) destinations of the outbox, against real servers on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>

#include "daemon/http_client.h"
#include "daemon/reports/outbox_delivery.h"
#include "daemon/reports/syslog_sender.h"
#include "tests/support/https_test_server.h"

namespace safegate {
namespace {

using testing::SmtpTestServer;
using testing::SyslogTestServer;
using testing::TestPki;

class OutboxTransportsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signal(SIGPIPE, SIG_IGN);  // as safegated does
    dir_ = new testing::TempDir();
    pki_ = new TestPki(dir_->path());
    ASSERT_TRUE(pki_->ok());
  }
  static void TearDownTestSuite() {
    delete pki_;
    delete dir_;
  }
  static MailClientOptions mailTo(const SmtpTestServer& s, bool smtps) {
    MailClientOptions o;
    o.url = std::string(smtps ? "smtps" : "smtp") + "://127.0.0.1:" + std::to_string(s.port());
    o.ca_file = pki_->caFile();
    o.total_timeout_ms = 10000;
    return o;
  }
  static std::string mail(const std::string& subject) {
    return "From: safegate <alerts@school.example>\r\nTo: dsl@school.example\r\nSubject: " +
           subject + "\r\nMessage-ID: <k1@safegate>\r\n\r\nA self-harm site was blocked.\r\n";
  }
  static SyslogSenderOptions syslogTo(const SyslogTestServer& s, bool tls) {
    SyslogSenderOptions o;
    o.host = "127.0.0.1";
    o.port = static_cast<uint16_t>(s.port());
    o.tls = tls;
    o.ca_file = pki_->caFile();
    return o;
  }
  static inline testing::TempDir* dir_ = nullptr;
  static inline TestPki* pki_ = nullptr;
};

TEST_F(OutboxTransportsTest, MailIsSentOnlyAfterStartTls) {
  SmtpTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*smtps=*/false));
  MailClient client(mailTo(server, false));
  Status s = client.send({"alerts@school.example", {"dsl@school.example"}, mail("starttls")});
  ASSERT_TRUE(s.isOk()) << s.toString();
  auto got = server.records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["tls"], true);
  EXPECT_EQ(got[0]["mail_from"], "alerts@school.example");
  EXPECT_EQ(got[0]["rcpt_tos"], nlohmann::json::array({"dsl@school.example"}));
  EXPECT_NE(got[0]["data"].get<std::string>().find("Subject: starttls"), std::string::npos);
}

TEST_F(OutboxTransportsTest, MailOverSmtpsArrives) {
  SmtpTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*smtps=*/true));
  MailClient client(mailTo(server, true));
  Status s = client.send(
      {"alerts@school.example", {"a@school.example", "b@school.example"}, mail("smtps")});
  ASSERT_TRUE(s.isOk()) << s.toString();
  auto got = server.records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["rcpt_tos"].size(), 2u);
}

// alerts[].username / password_file: AUTH after STARTTLS; a wrong password sends nothing and
// says why.
TEST_F(OutboxTransportsTest, MailAuthenticatesAfterStartTlsAndAWrongPasswordSendsNothing) {
  SmtpTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*smtps=*/false, "safegate:s3cret"));
  MailClientOptions o = mailTo(server, false);
  o.username = "safegate";
  o.password = "wrong";
  Status refused =
      MailClient(o).send({"alerts@school.example", {"dsl@school.example"}, mail("wrong password")});
  EXPECT_FALSE(refused.isOk());
  EXPECT_NE(refused.message().find("refused the user name or password"), std::string::npos)
      << refused.toString();
  EXPECT_TRUE(server.records().empty());
  o.password = "s3cret";
  Status s = MailClient(o).send({"alerts@school.example", {"dsl@school.example"}, mail("auth")});
  ASSERT_TRUE(s.isOk()) << s.toString();
  auto got = server.records();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["auth_user"], "safegate");
  EXPECT_EQ(got[0]["tls"], true);
}

TEST_F(OutboxTransportsTest, MailToAnUntrustedServerSendsNothing) {
  SmtpTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*smtps=*/false));
  MailClientOptions o = mailTo(server, false);
  o.ca_file = pki_->otherCaFile();
  MailClient client(o);
  Status s = client.send({"alerts@school.example", {"dsl@school.example"}, mail("untrusted")});
  ASSERT_FALSE(s.isOk());
  EXPECT_EQ(client.failure(), HttpFailure::kTls);
  EXPECT_NE(s.message().find("nothing was sent"), std::string::npos) << s.message();
  EXPECT_TRUE(server.records().empty());
}

TEST_F(OutboxTransportsTest, MailRefusesOtherSchemes) {
  MailClientOptions o;
  o.url = "http://127.0.0.1:25";
  MailClient client(o);
  EXPECT_EQ(client.send({"a@b.example", {"c@d.example"}, "x"}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(OutboxTransportsTest, SyslogOverTlsDeliversFramedMessagesOnOneConnection) {
  SyslogTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*tls=*/true));
  SyslogSender sender(syslogTo(server, true));
  const std::string a =
      formatRfc5424(2, 1'700'000'000'123, "gw1", "alert", "safegate@32473",
                    {{"category", "self-harm"}, {"group", "year-7"}}, "blocked self-harm site");
  ASSERT_TRUE(sender.send(a).isOk());
  ASSERT_TRUE(sender.send("second message with spaces").isOk());
  // Readiness: the collector logs each frame as it arrives; wait for both (bounded).
  std::vector<nlohmann::json> got;
  for (int i = 0; i < 200 && got.size() < 2; ++i) {
    got = server.records();
    if (got.size() < 2) usleep(10'000);
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["msg"], a);
  EXPECT_EQ(got[0]["tls"], true);
  EXPECT_EQ(got[1]["msg"], "second message with spaces");
}

TEST_F(OutboxTransportsTest, SyslogOverPlainTcpUsesTheSameFraming) {
  SyslogTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*tls=*/false));
  SyslogSender sender(syslogTo(server, false));
  ASSERT_TRUE(sender.send("plain message").isOk());
  std::vector<nlohmann::json> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    got = server.records();
    if (got.empty()) usleep(10'000);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["msg"], "plain message");
}

TEST_F(OutboxTransportsTest, SyslogCollectorWithAnotherHostsCertificateGetsNothing) {
  SyslogTestServer server;
  ASSERT_TRUE(server.start(*pki_, /*tls=*/true, "wrong"));
  SyslogSender sender(syslogTo(server, true));
  Status s = sender.send("secret");
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("TLS verification failed, nothing was sent"), std::string::npos)
      << s.message();
  EXPECT_TRUE(server.records().empty());
}

TEST_F(OutboxTransportsTest, SyslogToNobodyIsUnavailable) {
  SyslogSenderOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // privileged, nothing listens there in a test
  o.tls = false;
  SyslogSender sender(o);
  EXPECT_EQ(sender.send("x").code(), StatusCode::kUnavailable);
}

TEST(SyslogFormatTest, FollowsRfc5424WithEscapedParamsAndNoNewlines) {
  const std::string m =
      formatRfc5424(4, 1'700'000'000'005, "gate way", "alert", "safegate@32473",
                    {{"note", "a \"quoted\" ] \\ value"}, {"bad name", "x"}}, "line one\nline two");
  const std::string pid = std::to_string(getpid());
  EXPECT_EQ(m, "<108>1 2023-11-14T22:13:20.005Z gateway safegate " + pid +
                   " alert [safegate@32473 note=\"a \\\"quoted\\\" \\] \\\\ value\" badname=\"x\"]"
                   " line one line two");
  EXPECT_EQ(formatRfc5424(9, 0, "", "", "", {}, ""),
            "<111>1 1970-01-01T00:00:00.000Z - safegate " + pid + " - -");
}

TEST_F(OutboxTransportsTest, OutboxDeliversToMailAndSyslogDestinations) {
  SmtpTestServer smtp;
  ASSERT_TRUE(smtp.start(*pki_, false));
  SyslogTestServer syslog;
  ASSERT_TRUE(syslog.start(*pki_, true));
  testing::TempDir dir;
  OutboxDestination lead;
  lead.name = "lead-mail";
  lead.kind = DestinationKind::kMail;
  lead.mail = mailTo(smtp, false);
  lead.mail_from = "alerts@school.example";
  lead.mail_to = {"dsl@school.example"};
  OutboxDestination collector;
  collector.name = "district";
  collector.kind = DestinationKind::kSyslog;
  collector.syslog = syslogTo(syslog, true);
  OutboxDeliveryOptions o;
  o.outbox_path = (dir.path() / "outbox.sqlite").string();
  FakeClock clock;
  OutboxDelivery d(o, {lead, collector}, clock);
  {
    auto s = OutboxStore::open(o.outbox_path, o.store);
    ASSERT_TRUE(s.isOk());
    ASSERT_TRUE(
        s->enqueue({"alert", "lead-mail", {}, mail("via outbox"), 0}, clock.unixMs()).isOk());
    ASSERT_TRUE(
        s->enqueue({"alert", "district", {}, "<108>1 - - safegate - - - x", 0}, clock.unixMs())
            .isOk());
  }
  auto n = d.deliverDue();
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(n.value(), 2);
  EXPECT_EQ(d.stats().delivered, 2u) << d.stats().last_error;
  EXPECT_EQ(smtp.records().size(), 1u);
  std::vector<nlohmann::json> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    got = syslog.records();
    if (got.empty()) usleep(10'000);
  }
  EXPECT_EQ(got.size(), 1u);
}

}  // namespace
}  // namespace safegate
