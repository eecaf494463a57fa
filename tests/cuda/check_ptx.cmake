# Checks the PTX of tests/cuda/ptx_probe.cu: the elementwise engine's contiguous
# kernel and the row-reduction kernel each read float32 operands with 128-bit
# (v4) global loads. Usage: cmake -DPTX=<file.ptx> -P check_ptx.cmake
if(NOT EXISTS "${PTX}")
  message(FATAL_ERROR "check_ptx: no PTX file '${PTX}'")
endif()
file(READ "${PTX}" ptx)

# check(<mangled-name prefix> <what> <expected loads>): the body of the first kernel whose
# .entry starts with the prefix holds at least <expected loads> v4 float loads from global memory.
function(check prefix what expected)
  string(FIND "${ptx}" ".entry ${prefix}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "check_ptx: no kernel '${prefix}...' (${what}) in ${PTX}")
  endif()
  string(SUBSTRING "${ptx}" ${at} -1 body)
  string(SUBSTRING "${body}" 6 -1 after)  # past this ".entry"
  string(FIND "${after}" ".entry" next)
  if(NOT next EQUAL -1)
    string(SUBSTRING "${after}" 0 ${next} body)
  endif()
  string(REGEX MATCHALL "ld\\.global(\\.nc)?\\.v4\\.f32" loads "${body}")
  list(LENGTH loads n)
  if(n LESS expected)
    message(FATAL_ERROR "check_ptx: ${what} has ${n} 128-bit loads, expected at least ${expected}: "
                        "its operands are read element by element")
  endif()
  message(STATUS "check_ptx: ${what}: ${n} 128-bit loads")
endfunction()

check("_ZN5ember4cuda33elementwise_vectorized_fwd_kernel" "elementwise a + b (float32)" 2)
check("_ZN5ember4cuda22reduce_rows_fwd_kernel" "row sum (float32)" 1)
