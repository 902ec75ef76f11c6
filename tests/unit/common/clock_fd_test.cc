#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>

#include "common/clock.h"
#include "common/fd.h"

namespace safegate {
namespace {

bool isOpen(int fd) { return ::fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

TEST(FdTest, ClosesItsDescriptorWhenDestroyed) {
  int raw;
  {
    Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(fd.valid());
    raw = fd.get();
    EXPECT_TRUE(isOpen(raw));
  }
  EXPECT_FALSE(isOpen(raw));
}

TEST(FdTest, MoveTransfersOwnershipAndReleaseGivesItUp) {
  Fd a(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int raw = a.get();
  Fd b(std::move(a));
  EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(b.get(), raw);
  Fd c;
  c = std::move(b);
  EXPECT_EQ(c.get(), raw);
  const int released = c.release();
  EXPECT_FALSE(c);
  EXPECT_TRUE(isOpen(released));
  ::close(released);
}

TEST(FdTest, ResetClosesThePreviousDescriptor) {
  Fd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int first = fd.get();
  fd.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  EXPECT_NE(fd.get(), -1);
  EXPECT_FALSE(isOpen(first) && first != fd.get());
  fd.reset();
  EXPECT_EQ(fd.get(), -1);
}

TEST(ClockTest, SystemClockAgreesWithItselfAndMovesForward) {
  const Clock& c = SystemClock::instance();
  const int64_t s = c.unixSeconds();
  const int64_t ms = c.unixMs();
  EXPECT_GT(s, 1'600'000'000);
  EXPECT_LE(ms / 1000 - s, 1);
  const int64_t m1 = c.monotonicMs();
  const int64_t m2 = c.monotonicMs();
  EXPECT_GE(m2, m1);
}

TEST(ClockTest, FakeClockMovesOnlyWhenTold) {
  FakeClock c;
  EXPECT_EQ(c.unixSeconds(), 1'700'000'000);
  EXPECT_EQ(c.monotonicMs(), 0);
  c.advanceMs(1500);
  EXPECT_EQ(c.unixMs(), 1'700'000'001'500);
  EXPECT_EQ(c.unixSeconds(), 1'700'000'001);
  EXPECT_EQ(c.monotonicMs(), 1500);
  c.advanceMs(-10);  // ignored
  EXPECT_EQ(c.monotonicMs(), 1500);
  c.advanceSeconds(2);
  EXPECT_EQ(c.monotonicMs(), 3500);
}

TEST(ClockTest, SettingTheWallClockBackDoesNotMoveTheMonotonicClock) {
  FakeClock c(int64_t{1'700'000'000} * 1000, 100);
  c.setUnixSeconds(1'600'000'000);
  EXPECT_EQ(c.unixSeconds(), 1'600'000'000);
  EXPECT_EQ(c.monotonicMs(), 100);
  c.setUnixMs(-1);  // before 1970: seconds round down
  EXPECT_EQ(c.unixSeconds(), -1);
}

}  // namespace
}  // namespace safegate
