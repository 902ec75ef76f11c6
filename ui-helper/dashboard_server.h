// DashboardServer: the dashboard's HTTP side (docs/dashboard.md) on its own listener —
// sign-in and sign-out, the overview, incidents with filters and per-device drill-down,
// requests (approve/deny), exceptions, the audit log, and the CSV export. Every page asks
// safegated over the control socket; the pages' HTML is in ui-helper/dashboard.h.
// Thread-safety: install() once before the server listens; the handlers it installs run on
// the server's thread pool and share only internally locked state.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "policy/config.h"

namespace safegate::ui {

class DashboardServer {
 public:
  // `ui` must outlive the server; `tls` says whether cookies are marked Secure.
  DashboardServer(const policy::UiSettings& ui, std::string socket, bool tls);
  ~DashboardServer();
  DashboardServer(const DashboardServer&) = delete;
  DashboardServer& operator=(const DashboardServer&) = delete;

  void install(httplib::Server& server);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace safegate::ui
