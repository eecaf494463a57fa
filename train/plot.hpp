// Line plots of training curves as PNG files: the "PNG of the curves" a recipe
// writes at the end, with no plotting library behind it.
//
// Each Panel is one chart (say "loss" with train and valid curves, or
// "accuracy"); the panels sit side by side in one RGB image with a white
// background, a framed plot area, "nice" tick labels, light grid lines, one
// palette colour per series, a legend of the named series and the title above.
// Text comes from stb_easy_font and the PNG from stb_image_write.
//
// Invariant: any finite input renders without error or crash. Points that
// cannot be drawn (NaN, infinity, |v| > 1e300, and y <= 0 on a log axis) are
// skipped and leave a gap in their line; a constant, single-point, all-NaN or
// empty series gets a sensible range. Only caller mistakes (x and y of
// different lengths, an image too small, no panels, an unwritable path) throw
// ember::Error, naming the panel, series or path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ember::train {

// One line. x and y have the same length; points are joined in index order.
// A series with an empty name is drawn but left out of the legend.
struct Series {
  std::string name;
  std::vector<double> x, y;
};

// One chart. log_y plots y on a base-10 log scale (y <= 0 is skipped).
struct Panel {
  std::string title;
  std::string x_label;
  std::vector<Series> series;
  bool log_y = false;
};

// The size of the whole image; panels share its width equally, and each
// needs at least kMinPanelPixels x kMinPanelPixels.
struct PlotOptions {
  int width = 900, height = 360;
};

inline constexpr int kMinPanelPixels = 64;
inline constexpr int kMaxPlotPixels = 16384;  // per side: keeps the RGB buffer size sane

struct Rgb {
  uint8_t r, g, b;
  friend bool operator==(const Rgb&, const Rgb&) = default;
};

// The colour of a panel's series number `index` (a fixed palette of ten, repeating).
Rgb series_color(size_t index);

// Renders the panels into row-major RGB bytes, (height, width, 3), and reports the size.
std::vector<uint8_t> render_plot(const std::vector<Panel>& panels, PlotOptions opts = {}, int* width_out = nullptr,
                                 int* height_out = nullptr);

// Renders the panels and writes them as a PNG: first to "<path>.tmp", flushed
// to disk, then renamed over `path`, so a crash never leaves a half-written file.
void write_plot_png(const std::string& path, const std::vector<Panel>& panels, PlotOptions opts = {});

}  // namespace ember::train
