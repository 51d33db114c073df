#pragma once

#include <optional>

#include "workloads/function.hpp"
#include "workloads/registry.hpp"

namespace p2pfaas::workloads {

// Adds echo, sleep, compute, io, memory and verify (see API.md "Built-in functions").
// Called explicitly by the composition root: static self-registration is dropped by static
// libraries.
void register_builtin_functions(function_registry& registry);

// Reads the parameters of the built-in `call.function` from the query and body as its body does,
// without doing its work: nullopt when the body would take them, else the error answer it would
// give. For tests and the fuzzer; echo and unknown functions read no parameters.
std::optional<function_result> check_builtin_parameters(const invocation& call,
                                                        int memory_limit_mb);

}  // namespace p2pfaas::workloads
