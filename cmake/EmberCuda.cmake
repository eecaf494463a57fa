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

# How ember's CUDA sources compile (the library's, and the PTX probe's in tests/).
function(ember_cuda_compile_options target)
  # CMake 3.25 has no CUDA20 dialect for nvcc 13: pass -std=c++20 directly.
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20 --expt-relaxed-constexpr --extended-lambda>)
  # With CUDA_STANDARD unset CMake derives the CUDA dialect from CXX_STANDARD (20)
  # and, as CMAKE_CXX_STANDARD_REQUIRED is ON, fails at generate time ("requires
  # the language dialect CUDA20"). Not required: CMake adds no -std, ours applies.
  set_target_properties(${target} PROPERTIES CUDA_SEPARABLE_COMPILATION OFF CUDA_STANDARD_REQUIRED OFF)
endfunction()

function(ember_link_cuda target)
  ember_cuda_compile_options(${target})
  target_link_libraries(${target} PUBLIC CUDA::cudart)
  # cuBLAS/cuBLASLt come with the toolkit; where a toolkit lacks them (they may come as Python
  # wheels instead), EMBER_CUBLAS_ROOT names a folder with include/ and lib/.
  if(TARGET CUDA::cublasLt AND TARGET CUDA::cublas)
    target_link_libraries(${target} PRIVATE CUDA::cublas CUDA::cublasLt)
  else()
    find_path(EMBER_CUBLAS_INCLUDE_DIR cublasLt.h HINTS ${EMBER_CUBLAS_ROOT}/include)
    find_library(EMBER_CUBLAS_LIBRARY NAMES cublas libcublas.so.13 libcublas.so.12 NAMES_PER_DIR
                 HINTS ${EMBER_CUBLAS_ROOT}/lib ${EMBER_CUBLAS_ROOT}/lib64)
    find_library(EMBER_CUBLASLT_LIBRARY NAMES cublasLt libcublasLt.so.13 libcublasLt.so.12 NAMES_PER_DIR
                 HINTS ${EMBER_CUBLAS_ROOT}/lib ${EMBER_CUBLAS_ROOT}/lib64)
    if(NOT EMBER_CUBLAS_INCLUDE_DIR OR NOT EMBER_CUBLAS_LIBRARY OR NOT EMBER_CUBLASLT_LIBRARY)
      message(FATAL_ERROR "ember: cuBLAS/cuBLASLt not found with the CUDA toolkit (${CUDAToolkit_LIBRARY_DIR}); "
                          "set EMBER_CUBLAS_ROOT to a folder with include/cublasLt.h and lib/libcublasLt.so*")
    endif()
    target_include_directories(${target} SYSTEM PRIVATE ${EMBER_CUBLAS_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${EMBER_CUBLAS_LIBRARY} ${EMBER_CUBLASLT_LIBRARY})
  endif()
  # cuDNN: with the toolkit, the system, or EMBER_CUDNN_ROOT (include/ and lib/, e.g. the
  # nvidia-cudnn Python wheel, whose library is only libcudnn.so.9). Without it conv2d has no CUDA
  # kernel and batch norm runs on ember's own kernels.
  find_path(EMBER_CUDNN_INCLUDE_DIR cudnn.h
            HINTS ${EMBER_CUDNN_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS} /usr/include/x86_64-linux-gnu)
  find_library(EMBER_CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR
               HINTS ${EMBER_CUDNN_ROOT}/lib ${EMBER_CUDNN_ROOT}/lib64 ${CUDAToolkit_LIBRARY_DIR}
                     /usr/lib/x86_64-linux-gnu)
  if(EMBER_CUDNN_INCLUDE_DIR AND EMBER_CUDNN_LIBRARY)
    target_include_directories(${target} SYSTEM PRIVATE ${EMBER_CUDNN_INCLUDE_DIR})
    target_link_libraries(${target} PRIVATE ${EMBER_CUDNN_LIBRARY})
    target_compile_definitions(${target} PRIVATE EMBER_WITH_CUDNN=1)
    message(STATUS "ember: cuDNN ${EMBER_CUDNN_LIBRARY} (headers in ${EMBER_CUDNN_INCLUDE_DIR})")
  else()
    message(STATUS "ember: cuDNN not found (set EMBER_CUDNN_ROOT): no CUDA conv2d")
  endif()
endfunction()
