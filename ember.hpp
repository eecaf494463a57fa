// <ember/ember.hpp>: the whole public API in one include.
#pragma once

#include <ember/runtime/device.hpp>
#include <ember/runtime/error.hpp>
#include <ember/runtime/executor.hpp>
#include <ember/runtime/parallel_for.hpp>
#include <ember/runtime/serial_executor.hpp>
#include <ember/runtime/task_graph.hpp>
#include <ember/tensor/dtype.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/random.hpp>
#include <ember/tensor/tensor.hpp>
#include <ember/kernels/cpu/isa.hpp>
#include <ember/autograd/functions.hpp>
#include <ember/nn/attention.hpp>
#include <ember/nn/container.hpp>
#include <ember/nn/init.hpp>
#include <ember/nn/layers.hpp>
#include <ember/nn/loss.hpp>
#include <ember/nn/module.hpp>
#include <ember/nn/optim/adam.hpp>
#include <ember/nn/optim/schedule.hpp>
#include <ember/nn/optim/sgd.hpp>
#include <ember/nn/safetensors.hpp>
#include <ember/data/fashion_mnist.hpp>
#include <ember/data/idx.hpp>
