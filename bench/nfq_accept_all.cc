// nfq_accept_all: the baseline for bench/nfqueue_bench.sh — a bare NFQUEUE loop that accepts
// every packet as fast as libnetfilter_queue allows (copy mode, batched verdicts, large receive
// buffer, NETLINK_NO_ENOBUFS), with no parsing. safegated's inline path is measured against it
// in the same run.
//
//   nfq_accept_all --queue N [--batch 64] [--ready-file PATH]
//
// Prints "packets=<n>" on SIGINT/SIGTERM. Writes the ready file once the queue is bound.
#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;
void onSignal(int) { g_stop = 1; }

struct State {
  nfq_q_handle* qh = nullptr;
  uint64_t packets = 0;
  uint32_t pending = 0;
  uint32_t last_id = 0;
  uint32_t batch = 64;
};

int onPacket(nfq_q_handle* qh, nfgenmsg*, nfq_data* nfa, void* data) {
  auto* s = static_cast<State*>(data);
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) return 0;
  s->last_id = ntohl(ph->packet_id);
  ++s->packets;
  if (++s->pending >= s->batch) {
    nfq_set_verdict_batch(qh, s->last_id, NF_ACCEPT);
    s->pending = 0;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int queue = 0;
  State state;
  std::string ready_file;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--queue")
      queue = std::atoi(argv[i + 1]);
    else if (a == "--batch")
      state.batch = static_cast<uint32_t>(std::atoi(argv[i + 1]));
    else if (a == "--ready-file")
      ready_file = argv[i + 1];
  }
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  nfq_handle* h = nfq_open();
  if (h == nullptr) {
    std::perror("nfq_open");
    return 1;
  }
  state.qh = nfq_create_queue(h, static_cast<uint16_t>(queue), onPacket, &state);
  if (state.qh == nullptr) {
    std::perror("nfq_create_queue");
    return 1;
  }
  nfq_set_mode(state.qh, NFQNL_COPY_PACKET, 0xffff);
  nfq_set_queue_maxlen(state.qh, 4096);
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 << 20);
  int fd = nfq_fd(h);
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
  if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";
  // Same receive structure as safegated's front end (poll, then recvmmsg until drained,
  // one batched verdict per run), so the comparison measures the inspection, not the loop.
  constexpr int kBatch = 32;
  constexpr size_t kBytes = 0xffff + 4096;
  static std::vector<char> buffers(kBatch * kBytes);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = iovec{buffers.data() + i * kBytes, kBytes};
    msgs[i] = mmsghdr{};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  while (!g_stop) {
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, 100) <= 0) continue;
    for (;;) {
      int n = recvmmsg(fd, msgs.data(), kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) {
        nfq_handle_packet(h, static_cast<char*>(iov[i].iov_base),
                          static_cast<int>(msgs[i].msg_len));
      }
      if (state.pending > 0) {
        nfq_set_verdict_batch(state.qh, state.last_id, NF_ACCEPT);
        state.pending = 0;
      }
      if (n < kBatch) break;
    }
  }
  if (state.pending > 0) nfq_set_verdict_batch(state.qh, state.last_id, NF_ACCEPT);
  std::printf("packets=%llu\n", static_cast<unsigned long long>(state.packets));
  nfq_destroy_queue(state.qh);
  nfq_close(h);
  return 0;
}
