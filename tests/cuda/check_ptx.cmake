# Checks the PTX of tests/cuda/ptx_probe.cu: the elementwise engine's contiguous
# kernel and the row-reduction kernel each read float32 operands with 128-bit
# (v4) global loads; the strided kernel finds coordinates by multiply-high
# (IntDivider). Usage: cmake -DPTX=<file.ptx> -P check_ptx.cmake
if(NOT EXISTS "${PTX}")
  message(FATAL_ERROR "check_ptx: no PTX file '${PTX}'")
endif()
file(READ "${PTX}" ptx)

# check(<mangled-name prefix> <what> <regex> <expected> <failure>): the body of the first kernel
# whose .entry starts with the prefix holds at least <expected> matches of <regex>.
function(check prefix what regex expected failure)
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
  string(REGEX MATCHALL "${regex}" found "${body}")
  list(LENGTH found n)
  if(n LESS expected)
    message(FATAL_ERROR "check_ptx: ${what} has ${n} matches of '${regex}', expected at least ${expected}: ${failure}")
  endif()
  message(STATUS "check_ptx: ${what}: ${n} of '${regex}'")
endfunction()

set(v4_load "ld\\.global(\\.nc)?\\.v4\\.f32")
check("_ZN5ember4cuda33elementwise_vectorized_fwd_kernel" "elementwise a + b (float32)" "${v4_load}" 2
      "its operands are read element by element")
check("_ZN5ember4cuda22reduce_rows_fwd_kernel" "row sum (float32)" "${v4_load}" 1
      "its rows are read element by element")
check("_ZN5ember4cuda30elementwise_strided_fwd_kernel" "strided a + b (float32)" "mul\\.hi\\.u32" 1
      "it finds coordinates by division, not by IntDivider")
