#pragma once

#include "workloads/registry.hpp"

namespace p2pfaas::workloads {

// Adds echo, sleep, compute, io, memory and verify (see API.md "Built-in functions").
// Called explicitly by the composition root: static self-registration is dropped by static
// libraries.
void register_builtin_functions(function_registry& registry);

}  // namespace p2pfaas::workloads
