// sharpeyes: the single binary (gateway, sim, status, center, ...). Wiring lives in app/ only.
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"sharpeyes: Sharp Eyes video ingest and analytics gateway"};
  app.require_subcommand(1);
  int exitCode = sharpeyes::app::kExitOk;
  sharpeyes::app::addGatewayCommands(app, exitCode);
  sharpeyes::app::addSimCommands(app, exitCode);
  sharpeyes::app::addStorageCommands(app, exitCode);
  sharpeyes::app::addBusCommands(app, exitCode);
  sharpeyes::app::addOnvifCommands(app, exitCode);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : sharpeyes::app::kExitBadConfig;
  }
  return exitCode;
}
