# EMBER_CUDA=AUTO|ON|OFF decides whether the CUDA backend is compiled.
# Sets EMBER_WITH_CUDA and provides ember_link_cuda(target).
include(CheckLanguage)
set(EMBER_WITH_CUDA OFF)
if(NOT EMBER_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # Must be set before enable_language(CUDA), or it is detected (as 75 with no GPU).
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(EMBER_WITH_CUDA ON)
  elseif(EMBER_CUDA STREQUAL "ON")
    message(FATAL_ERROR "EMBER_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
message(STATUS "ember: CUDA backend ${EMBER_WITH_CUDA}")

function(ember_link_cuda target)
  # CMake 3.25 has no CUDA20 dialect for nvcc 13: pass -std=c++20 directly.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr --extended-lambda>)
  # With CUDA_STANDARD unset CMake derives the CUDA dialect from CXX_STANDARD (20)
  # and, as CMAKE_CXX_STANDARD_REQUIRED is ON, fails at generate time ("requires
  # the language dialect CUDA20"). Not required: CMake adds no -std, ours applies.
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_STANDARD_REQUIRED OFF)
  target_link_libraries(${target} PUBLIC CUDA::cudart PRIVATE CUDA::cublas CUDA::cublasLt)
  find_library(EMBER_CUDNN_LIBRARY cudnn HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/lib/x86_64-linux-gnu)
  if(EMBER_CUDNN_LIBRARY)
    target_link_libraries(${target} PRIVATE ${EMBER_CUDNN_LIBRARY})
    target_compile_definitions(${target} PRIVATE EMBER_WITH_CUDNN=1)
  endif()
endfunction()
