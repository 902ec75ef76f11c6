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
#include <sys/socket.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

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
  timeval tv{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (!ready_file.empty()) std::ofstream(ready_file) << "ready\n";
  alignas(8) static char buf[1 << 17];
  while (!g_stop) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      // Timeout or signal: flush what is pending so no packet waits for a full batch.
      if (state.pending > 0) {
        nfq_set_verdict_batch(state.qh, state.last_id, NF_ACCEPT);
        state.pending = 0;
      }
      continue;
    }
    nfq_handle_packet(h, buf, static_cast<int>(n));
    // Flush when the socket is drained, so latency stays low at low rates.
    ssize_t peek = recv(fd, buf, 0, MSG_PEEK | MSG_DONTWAIT);
    if (peek < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && state.pending > 0) {
      nfq_set_verdict_batch(state.qh, state.last_id, NF_ACCEPT);
      state.pending = 0;
    }
  }
  if (state.pending > 0) nfq_set_verdict_batch(state.qh, state.last_id, NF_ACCEPT);
  std::printf("packets=%llu\n", static_cast<unsigned long long>(state.packets));
  nfq_destroy_queue(state.qh);
  nfq_close(h);
  return 0;
}
