#include "daemon/inline/nfqueue_frontend.h"

#include <arpa/inet.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/thread_name.h"

namespace safegate {

namespace {

constexpr size_t kMessageBytes = 0xffff + 4096;  // a whole packet plus netlink attributes

int64_t monotonicMs() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int onQueuedPacket(nfq_q_handle*, nfgenmsg*, nfq_data* nfa, void* data) {
  return static_cast<NfqueueQueue*>(data)->handleMessage(nfa);
}

uint32_t kernelVerdict(NfqVerdictKind k) {
  switch (k) {
    case NfqVerdictKind::kAccept: return NF_ACCEPT;
    case NfqVerdictKind::kDrop: return NF_DROP;
    case NfqVerdictKind::kRepeat: return NF_REPEAT;
  }
  return NF_ACCEPT;
}

}  // namespace

struct NfqueueQueue::Impl {
  nfq_handle* handle = nullptr;
  nfq_q_handle* queue = nullptr;
  int fd = -1;
  std::vector<uint8_t> buffers;  // receive_batch * kMessageBytes
  std::vector<mmsghdr> messages;
  std::vector<iovec> iovecs;

  ~Impl() {
    if (queue != nullptr) nfq_destroy_queue(queue);
    if (handle != nullptr) nfq_close(handle);
  }
};

NfqueueQueue::NfqueueQueue(NfqueueOptions options, std::unique_ptr<Impl> impl)
    : options_(options), impl_(std::move(impl)) {}

NfqueueQueue::~NfqueueQueue() = default;

Result<std::unique_ptr<NfqueueQueue>> NfqueueQueue::open(const NfqueueOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->handle = nfq_open();
  if (impl->handle == nullptr) {
    return Status::fromErrno("nfq_open (needs CAP_NET_ADMIN and nfnetlink_queue)", errno);
  }
  std::unique_ptr<NfqueueQueue> q(new NfqueueQueue(options, std::move(impl)));
  Impl& m = *q->impl_;
  m.queue = nfq_create_queue(m.handle, options.queue, onQueuedPacket, q.get());
  if (m.queue == nullptr) {
    return Status::fromErrno(
        "nfq_create_queue " + std::to_string(options.queue) + " (is another process bound to it?)",
        errno);
  }
  if (nfq_set_mode(m.queue, NFQNL_COPY_PACKET, options.copy_range) < 0) {
    return Status::fromErrno("nfq_set_mode", errno);
  }
  if (nfq_set_queue_maxlen(m.queue, options.max_queue_length) < 0) {
    return Status::fromErrno("nfq_set_queue_maxlen", errno);
  }
  uint32_t flags = options.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0;
  if (nfq_set_queue_flags(m.queue, NFQA_CFG_F_FAIL_OPEN, flags) < 0) {
    return Status::fromErrno("nfq_set_queue_flags(FAIL_OPEN)", errno);
  }
  m.fd = nfq_fd(m.handle);
  nfnl_rcvbufsiz(nfq_nfnlh(m.handle), static_cast<unsigned int>(options.receive_buffer_bytes));
  // Without this, an overrun makes recv() fail with ENOBUFS and the library loses track;
  // with it the kernel just drops (and counts) what does not fit (Suricata does the same).
  int one = 1;
  if (setsockopt(m.fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one) < 0) {
    return Status::fromErrno("setsockopt NETLINK_NO_ENOBUFS", errno);
  }
  uint32_t batch = options.receive_batch == 0 ? 1 : options.receive_batch;
  m.buffers.resize(size_t{batch} * kMessageBytes);
  m.messages.resize(batch);
  m.iovecs.resize(batch);
  for (uint32_t i = 0; i < batch; ++i) {
    m.iovecs[i] = iovec{m.buffers.data() + size_t{i} * kMessageBytes, kMessageBytes};
    m.messages[i] = mmsghdr{};
    m.messages[i].msg_hdr.msg_iov = &m.iovecs[i];
    m.messages[i].msg_hdr.msg_iovlen = 1;
  }
  return q;
}

int NfqueueQueue::handleMessage(void* data) noexcept {
  auto* nfa = static_cast<nfq_data*>(data);
  nfqnl_msg_packet_hdr* ph = nfq_get_msg_packet_hdr(nfa);
  if (ph == nullptr) {
    counters_.malformed_messages.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  NfqPacketView view;
  view.packet_id = ntohl(ph->packet_id);
  view.hw_protocol = ntohs(ph->hw_protocol);
  view.mark = nfq_get_nfmark(nfa);
  view.indev = nfq_get_indev(nfa);
  // The attribute may sit at any address inside the netlink message: copy, do not dereference.
  if (const void* hw_attr = nfq_get_packet_hw(nfa); hw_attr != nullptr) {
    nfqnl_msg_packet_hw hw;
    std::memcpy(&hw, hw_attr, sizeof hw);
    if (ntohs(hw.hw_addrlen) == 6) {
      view.has_source_mac = true;
      std::memcpy(view.source_mac.data(), hw.hw_addr, 6);
    }
  }
  unsigned char* payload = nullptr;
  int len = nfq_get_payload(nfa, &payload);
  if (len > 0) view.ip = std::span<const uint8_t>(payload, static_cast<size_t>(len));
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  NfqVerdict v = handler_->onPacket(view);
  switch (v.kind) {
    case NfqVerdictKind::kAccept: counters_.accepted.fetch_add(1, std::memory_order_relaxed); break;
    case NfqVerdictKind::kDrop: counters_.dropped.fetch_add(1, std::memory_order_relaxed); break;
    case NfqVerdictKind::kRepeat: counters_.repeated.fetch_add(1, std::memory_order_relaxed); break;
  }
  addVerdict(view.packet_id, v);
  return 0;
}

// Packet ids grow by one per queued packet, and a batch verdict covers every packet of the
// queue up to the given id; so a run of consecutive packets with the same verdict and mark is
// one message. A different verdict flushes the run first.
void NfqueueQueue::addVerdict(uint32_t id, NfqVerdict v) noexcept {
  if (pending_ && !(v == pending_verdict_)) flushVerdicts();
  pending_ = true;
  pending_verdict_ = v;
  pending_last_id_ = id;
  if (++pending_count_ >= options_.verdict_batch) flushVerdicts();
}

void NfqueueQueue::flushVerdicts() noexcept {
  if (!pending_) return;
  int rc;
  uint32_t verdict = kernelVerdict(pending_verdict_.kind);
  if (pending_count_ == 1) {
    rc = pending_verdict_.kind == NfqVerdictKind::kRepeat
             ? nfq_set_verdict2(impl_->queue, pending_last_id_, verdict, pending_verdict_.mark, 0,
                                nullptr)
             : nfq_set_verdict(impl_->queue, pending_last_id_, verdict, 0, nullptr);
  } else {
    rc =
        pending_verdict_.kind == NfqVerdictKind::kRepeat
            ? nfq_set_verdict_batch2(impl_->queue, pending_last_id_, verdict, pending_verdict_.mark)
            : nfq_set_verdict_batch(impl_->queue, pending_last_id_, verdict);
  }
  counters_.verdict_messages.fetch_add(1, std::memory_order_relaxed);
  if (rc < 0) counters_.verdict_errors.fetch_add(pending_count_, std::memory_order_relaxed);
  pending_ = false;
  pending_count_ = 0;
}

size_t NfqueueQueue::pollOnce(NfqPacketHandler& handler, int timeout_ms) noexcept {
  Impl& m = *impl_;
  handler_ = &handler;
  pollfd pfd{m.fd, POLLIN, 0};
  int ready = poll(&pfd, 1, timeout_ms);
  size_t handled = 0;
  if (ready > 0) {
    for (;;) {
      int n = recvmmsg(m.fd, m.messages.data(), static_cast<unsigned>(m.messages.size()),
                       MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          counters_.receive_errors.fetch_add(1, std::memory_order_relaxed);
        }
        break;
      }
      for (int i = 0; i < n; ++i) {
        auto* buf = reinterpret_cast<char*>(m.iovecs[i].iov_base);
        nfq_handle_packet(m.handle, buf, static_cast<int>(m.messages[i].msg_len));
        ++handled;
      }
      if (static_cast<size_t>(n) < m.messages.size()) break;  // drained
      flushVerdicts();  // keep latency bounded under sustained load
    }
  }
  flushVerdicts();
  handler.onIdle(monotonicMs());
  return handled;
}

void NfqueueQueue::run(NfqPacketHandler& handler, const std::atomic<bool>& stop) noexcept {
  while (!stop.load(std::memory_order_relaxed)) pollOnce(handler, 100);
}

Result<NfqueueKernelStats> NfqueueQueue::kernelStats(uint16_t queue) {
  // thread-self: the calling thread may live in another network namespace than the process.
  std::ifstream in("/proc/thread-self/net/netfilter/nfnetlink_queue");
  if (!in) return Status::io("cannot read /proc/thread-self/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    uint64_t num, portid, total, mode, range, qdrop, udrop, seq;
    if (!(fields >> num >> portid >> total >> mode >> range >> qdrop >> udrop >> seq)) continue;
    if (num != queue) continue;
    NfqueueKernelStats s;
    s.queue = queue;
    s.waiting = static_cast<uint32_t>(total);
    s.queue_dropped = qdrop;
    s.user_dropped = udrop;
    s.id_sequence = seq;
    return s;
  }
  return Status::notFound("queue " + std::to_string(queue) + " is not bound");
}

Result<std::unique_ptr<NfqueueFrontend>> NfqueueFrontend::open(
    const std::vector<NfqueueOptions>& queues, const HandlerFactory& factory) {
  std::unique_ptr<NfqueueFrontend> f(new NfqueueFrontend());
  for (const auto& o : queues) {
    auto q = NfqueueQueue::open(o);
    if (!q.isOk()) return q.status();
    auto h = factory(o.queue);
    if (!h) return Status::internal("no handler for queue " + std::to_string(o.queue));
    f->queues_.push_back(std::move(q).value());
    f->handlers_.push_back(std::move(h));
  }
  return f;
}

NfqueueFrontend::~NfqueueFrontend() { stop(); }

void NfqueueFrontend::start() {
  stop_.store(false);
  for (size_t i = 0; i < queues_.size(); ++i) {
    threads_.emplace_back([this, i] {
      setThreadName("sg-nfq-" + std::to_string(i));
      queues_[i]->run(*handlers_[i], stop_);
    });
  }
}

void NfqueueFrontend::stop() {
  stop_.store(true);
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

Status probeNfqueueSupport(uint16_t queue) {
  NfqueueOptions o;
  o.queue = queue;
  o.receive_batch = 1;
  auto q = NfqueueQueue::open(o);
  if (!q.isOk()) return q.status();
  return Status::ok();
}

}  // namespace safegate
