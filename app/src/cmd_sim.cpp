#include "commands.h"

namespace sharpeyes::app {

// Subcommands of this family are registered here as the module lands.
void addSimCommands(CLI::App& app, int& exitCode) {}

}  // namespace sharpeyes::app
