# Warnings, sanitizers and per-ISA flags for ember's targets.
include(GNUInstallDirs)

# ccache for every language when it is installed (repeat CI builds mostly hit
# the cache). A launcher given on the command line wins.
option(EMBER_CCACHE "Use ccache as the compiler launcher when it is installed" ON)
if(EMBER_CCACHE)
  find_program(EMBER_CCACHE_PROGRAM ccache)
  if(EMBER_CCACHE_PROGRAM)
    foreach(lang C CXX CUDA)
      if(NOT CMAKE_${lang}_COMPILER_LAUNCHER)
        set(CMAKE_${lang}_COMPILER_LAUNCHER ${EMBER_CCACHE_PROGRAM})
      endif()
    endforeach()
  endif()
endif()

if(EMBER_SANITIZE)
  string(REPLACE ";" "," _ember_san "${EMBER_SANITIZE}")
  add_compile_options($<$<COMPILE_LANGUAGE:CXX,C>:-fsanitize=${_ember_san}>
                      $<$<COMPILE_LANGUAGE:CXX,C>:-fno-omit-frame-pointer>
                      $<$<COMPILE_LANGUAGE:CXX,C>:-fno-sanitize-recover=all>)
  add_link_options(-fsanitize=${_ember_san})
endif()

# Host warnings per language: nvcc rejects -Wall, so CUDA gets them through -Xcompiler.
function(ember_target_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra,-Wno-unused-parameter>)
  if(EMBER_WERROR)
    target_compile_options(${target} PRIVATE
      $<$<COMPILE_LANGUAGE:CXX>:-Werror>
      $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Werror>)
    if("thread" IN_LIST EMBER_SANITIZE)
      # g++ warns that TSan does not model atomic_thread_fence; the deque uses
      # sequentially consistent operations under TSan, so keep only that warning soft.
      target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:-Wno-error=tsan>)
    endif()
  endif()
endfunction()

# Only the per-ISA kernel files get vector ISA flags; the CPU kind is chosen
# at run time from cpuid, so one binary runs on any x86-64.
function(ember_set_isa_flags sources)
  foreach(src IN LISTS sources)
    if(src MATCHES "_avx512bf16\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
        "-mavx512bf16;-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mfma;-mavx2;-mf16c")
    elseif(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512dq;-mavx512vl;-mfma;-mavx2;-mf16c")
    elseif(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    endif()
  endforeach()
endfunction()
