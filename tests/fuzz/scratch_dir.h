// fuzzScratchDir(): a private folder for fuzz targets whose code under test reads or writes
// files (the config loader, exceptions.json). Made once per process under /dev/shm (or /tmp),
// so an iteration costs no disk I/O, and removed at exit (a crash leaves it for a look).
#pragma once

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

inline const std::filesystem::path& fuzzScratchDir() {
  // Never destroyed, so the atexit cleanup can still read it.
  static const std::filesystem::path* const dir = [] {
    const char* base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : "/tmp";
    std::string templ = std::string(base) + "/safegate-fuzz-XXXXXX";
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(fuzzScratchDir(), ec);
    });
    return new std::filesystem::path(templ);
  }();
  return *dir;
}
