// LibYAML (Debian's libyaml-dev, pkg-config yaml-0.1) for Swift: the workflow reader uses
// its event parser only (yaml_parser_parse), and builds its own tree so that it can count
// alias expansions against a budget. No macros are needed from Swift.
#ifndef FUNAD_CYAML_SHIM_H
#define FUNAD_CYAML_SHIM_H
#include <yaml.h>
#endif
