#pragma once
// Each subcommand family registers itself on the CLI11 app. One file per family; main.cpp
// only calls these. A registration function adds its subcommand(s) and the callback that runs
// them; the callback returns the process exit code through `exitCode`.

#include <CLI/CLI.hpp>

namespace sharpeyes::app {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadConfig = 2;

void addGatewayCommands(CLI::App& app, int& exitCode);  // gateway, status (app/src/cmd_gateway.cpp)
void addSimCommands(CLI::App& app, int& exitCode);      // sim (app/src/cmd_sim.cpp)
void addStorageCommands(CLI::App& app, int& exitCode);  // events, clip, case, verify, audit
void addBusCommands(CLI::App& app, int& exitCode);      // center, subscribe, keys
void addOnvifCommands(CLI::App& app, int& exitCode);    // discover, onvif ...

}  // namespace sharpeyes::app
