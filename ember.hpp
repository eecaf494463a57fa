// <ember/ember.hpp>: the whole public API in one include.
#pragma once

#include <ember/runtime/device.hpp>
#include <ember/runtime/error.hpp>
#include <ember/tensor/dtype.hpp>
#include <ember/tensor/factory.hpp>
#include <ember/tensor/random.hpp>
#include <ember/tensor/tensor.hpp>
#include <ember/autograd/functions.hpp>
