// The PNG line-plot writer of train/plot.hpp: a tiny rasteriser (filled
// rectangles, 2-pixel Bresenham lines, stb_easy_font's text quads) over an RGB
// canvas, the axis/tick layout of each panel, and an atomic PNG write.
//
// This is the one file that compiles stb_image_write, with
// STB_IMAGE_WRITE_STATIC so its symbols stay private here (data/image.cpp does
// the same for stb_image). Invariant: every drawing call is clipped to a
// rectangle inside the image, and every axis range is finite with hi > lo, so
// no input reaches a division by zero or an out-of-bounds pixel.
#include <ember/train/plot.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>

#include <ember/runtime/error.hpp>
#include <ember/runtime/file_io.hpp>

// stb_easy_font and stb_image_write define static functions this file does not call.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include <stb/stb_easy_font.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STBI_WRITE_NO_STDIO  // ember writes the file itself (atomically); stb only encodes to memory
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace ember::train {
namespace {

constexpr Rgb kBackground{255, 255, 255}, kGrid{232, 232, 232}, kFrame{70, 70, 70}, kText{25, 25, 25},
    kLegendBorder{190, 190, 190};
constexpr Rgb kPalette[] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
                            {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207}};

constexpr int kGlyphHeight = 7;  // stb_easy_font capitals fill rows 0..6; descenders reach row 8
constexpr int kLegendRowPitch = 11;
constexpr int kPad = 4;
constexpr int kTickLength = 3;
constexpr int kMarkerRadius = 2;
constexpr size_t kMarkerMaxPoints = 30;
constexpr size_t kMaxTextChars = 1000;
constexpr double kMaxMagnitude = 1e300;  // beyond this (or below 1/this on a log axis) a point is not drawn

// A half-open pixel rectangle [x0, x1) x [y0, y1).
struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int width() const { return x1 - x0; }
  int height() const { return y1 - y0; }
  Rect intersect(const Rect& o) const {
    return {std::max(x0, o.x0), std::max(y0, o.y0), std::min(x1, o.x1), std::min(y1, o.y1)};
  }
};

struct Point {
  int x = 0, y = 0;
  friend bool operator==(const Point&, const Point&) = default;
};

class Canvas {
 public:
  Canvas(int width, int height)
      : bounds_{0, 0, width, height}, rgb_(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 255) {}

  void fill(const Rect& r, Rgb color, const Rect& clip) {
    Rect c = r.intersect(clip).intersect(bounds_);
    for (int y = c.y0; y < c.y1; ++y)
      for (int x = c.x0; x < c.x1; ++x) {
        uint8_t* p = &rgb_[index(x, y)];
        p[0] = color.r, p[1] = color.g, p[2] = color.b;
      }
  }
  Rgb at(int x, int y) const {
    const uint8_t* p = &rgb_[index(x, y)];
    return {p[0], p[1], p[2]};
  }
  std::vector<uint8_t> take() && { return std::move(rgb_); }

 private:
  size_t index(int x, int y) const { return (static_cast<size_t>(y) * static_cast<size_t>(bounds_.x1) + x) * 3; }
  Rect bounds_;
  std::vector<uint8_t> rgb_;  // (height, width, 3)
};

// ---- text ------------------------------------------------------------------

// One line of text as stb_easy_font's bars at scale 1, relative to its top-left corner.
struct Text {
  std::vector<Rect> bars;
  int width = 0;  // the advance width, as stb_easy_font_width measures it
};

struct EasyFontVertex {  // stb_easy_font's vertex layout
  float x, y, z;
  uint8_t rgba[4];
};
static_assert(sizeof(EasyFontVertex) == 16);

Text layout_text(std::string_view text) {
  // stb_easy_font indexes its glyph table with (char - 32) unchecked: keep to printable ASCII, one line.
  std::string line;
  for (char ch : text.substr(0, kMaxTextChars)) line.push_back(ch >= 32 && ch <= 126 ? ch : '?');
  Text out;
  if (line.empty()) return out;
  std::vector<EasyFontVertex> vertices(line.size() * 64);  // a glyph takes at most 11 quads (44 vertices)
  int quads = stb_easy_font_print(0, 0, line.data(), nullptr, vertices.data(),
                                  static_cast<int>(vertices.size() * sizeof(EasyFontVertex)));
  for (int q = 0; q < quads; ++q) {
    const EasyFontVertex* v = &vertices[static_cast<size_t>(q) * 4];
    float x0 = std::min({v[0].x, v[1].x, v[2].x, v[3].x}), x1 = std::max({v[0].x, v[1].x, v[2].x, v[3].x});
    float y0 = std::min({v[0].y, v[1].y, v[2].y, v[3].y}), y1 = std::max({v[0].y, v[1].y, v[2].y, v[3].y});
    out.bars.push_back({static_cast<int>(std::lround(x0)), static_cast<int>(std::lround(y0)),
                        static_cast<int>(std::lround(x1)), static_cast<int>(std::lround(y1))});
  }
  out.width = stb_easy_font_width(line.data());
  return out;
}

void draw_text(Canvas& canvas, const Text& text, Point at, int scale, Rgb color, const Rect& clip) {
  for (const Rect& b : text.bars)
    canvas.fill({at.x + b.x0 * scale, at.y + b.y0 * scale, at.x + b.x1 * scale, at.y + b.y1 * scale}, color, clip);
}

// ---- axes and ticks ----------------------------------------------------------

// A value's position along an axis (log10 of it on a log axis), or nothing when it cannot be drawn.
std::optional<double> to_axis_space(double v, bool log) {
  if (!std::isfinite(v) || std::fabs(v) > kMaxMagnitude) return std::nullopt;
  if (!log) return v;
  if (v < 1 / kMaxMagnitude) return std::nullopt;  // non-positive (or vanishingly small) on a log axis
  return std::log10(v);
}

struct Axis {
  double lo = 0, hi = 1;  // the visible range in axis space; finite, hi > lo
  std::vector<double> ticks;  // in axis space
  std::vector<std::string> labels;
};

struct TickChoice {
  double lo, hi, step = 0;
  std::vector<double> ticks;
};

// The smallest step of 1, 2, 2.5 or 5 times a power of ten (at least min_step, and whole when
// min_step >= 1) that puts at most five multiples in [lo, hi]. With fewer than three, the range
// grows to the enclosing multiples: the high end first, the low end only if it stays positive
// when keep_positive. Needs a finite range with hi > lo.
TickChoice choose_ticks(double lo, double hi, double min_step, bool keep_positive) {
  TickChoice c{lo, hi, 0, {}};
  auto first = [&](double s) { return std::ceil(c.lo / s - 1e-9); };
  auto last = [&](double s) { return std::floor(c.hi / s + 1e-9); };
  double base = std::pow(10.0, std::floor(std::log10(hi - lo)) - 1);
  for (int decade = 0; decade < 12 && c.step == 0; ++decade, base *= 10)
    for (double multiplier : {1.0, 2.0, 2.5, 5.0}) {
      double s = base * multiplier;
      if (s < min_step || (min_step >= 1 && s != std::floor(s))) continue;
      if (last(s) - first(s) + 1 <= 5) {
        c.step = s;
        break;
      }
    }
  EMBER_ASSERT(c.step > 0, "no tick step for the range [", lo, ", ", hi, "]");
  if (last(c.step) - first(c.step) + 1 < 3) c.hi = std::ceil(c.hi / c.step - 1e-9) * c.step;
  if (last(c.step) - first(c.step) + 1 < 3) {
    double grown = std::floor(c.lo / c.step + 1e-9) * c.step;
    if (!keep_positive || grown > 0) c.lo = grown;
  }
  for (double i = first(c.step); i <= last(c.step); ++i) {
    double t = i * c.step;
    c.ticks.push_back(std::fabs(t) < c.step * 1e-9 ? 0.0 : t);
  }
  return c;
}

std::string format_tick(double value, double step) {
  char buf[48];
  if (std::max(std::fabs(value), step) >= 1e6 || step < 1e-4) {
    std::snprintf(buf, sizeof buf, "%.4g", value);
  } else {
    int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
    double scaled = step * std::pow(10.0, decimals);
    if (std::fabs(scaled - std::round(scaled)) > 1e-6) ++decimals;  // a step of 2.5 x 10^k
    std::snprintf(buf, sizeof buf, "%.*f", std::min(decimals, 8), value);
  }
  return buf;
}

// The axis over data [lo, hi] (axis space; have_data false: no drawable point): 5% margins,
// a constant widened by 10% of itself (or 1 around zero), then 3 to 5 nicely numbered ticks.
Axis make_axis(double lo, double hi, bool have_data, bool log) {
  if (!have_data) lo = 0, hi = 1;
  double span = hi - lo;
  if (span <= std::max(std::max(std::fabs(lo), std::fabs(hi)) * 1e-9, 1e-200)) {
    double center = (lo + hi) / 2, pad = center == 0 ? 1 : std::max(std::fabs(center) * 0.1, 1e-200);
    lo = center - pad, hi = center + pad;
  } else {
    lo -= span * 0.05, hi += span * 0.05;
  }
  Axis axis;
  auto format_power_tick = [](double exponent, double = 0) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%g", std::pow(10.0, exponent));
    return std::string(buf);
  };
  auto take = [&](const TickChoice& c, auto&& label) {
    axis.lo = c.lo, axis.hi = c.hi;
    for (double t : c.ticks) axis.ticks.push_back(t), axis.labels.push_back(label(t, c.step));
  };
  if (!log) {
    take(choose_ticks(lo, hi, 0, false), format_tick);
    return axis;
  }
  // A log axis: 1, 2 and 5 times the powers of ten when that gives 3 to 5 ticks; whole decades
  // when it gives more; over a narrow range, evenly spaced values instead (placed logarithmically).
  std::vector<double> ticks_125;
  for (double k = std::floor(lo); k <= std::ceil(hi); ++k)
    for (double m : {1.0, 2.0, 5.0})
      if (double t = k + std::log10(m); t >= lo && t <= hi) ticks_125.push_back(t);
  double value_lo = std::pow(10.0, lo), value_hi = std::pow(10.0, hi);
  if (ticks_125.size() >= 3 && ticks_125.size() <= 5) {
    axis.lo = lo, axis.hi = hi;
    for (double t : ticks_125) axis.ticks.push_back(t), axis.labels.push_back(format_power_tick(t));
  } else if (ticks_125.size() > 5 || !(value_lo > 0) || !std::isfinite(value_hi)) {
    take(choose_ticks(lo, hi, 1, false), format_power_tick);
  } else {
    TickChoice c = choose_ticks(value_lo, value_hi, 0, true);
    axis.lo = std::log10(c.lo), axis.hi = std::log10(c.hi);
    for (double t : c.ticks)
      if (t > 0) axis.ticks.push_back(std::log10(t)), axis.labels.push_back(format_tick(t, c.step));
  }
  return axis;
}

// Maps axis space to pixel centres inside the plot rectangle (y grows upward).
struct Mapping {
  Rect plot;
  const Axis &x, &y;
  static int to_pixel(double v) { return static_cast<int>(std::lround(std::clamp(v, -1e6, 1e6))); }
  int px(double xv) const { return to_pixel(plot.x0 + (xv - x.lo) / (x.hi - x.lo) * (plot.width() - 1)); }
  int py(double yv) const { return to_pixel(plot.y1 - 1 - (yv - y.lo) / (y.hi - y.lo) * (plot.height() - 1)); }
};

// ---- drawing ---------------------------------------------------------------

// A 2-pixel-wide Bresenham line from a to b, both ends included.
void draw_line(Canvas& canvas, Point a, Point b, Rgb color, const Rect& clip) {
  const int dx = std::abs(b.x - a.x), dy = -std::abs(b.y - a.y);
  const int step_x = a.x < b.x ? 1 : -1, step_y = a.y < b.y ? 1 : -1;
  for (int err = dx + dy;;) {
    canvas.fill({a.x, a.y, a.x + 2, a.y + 2}, color, clip);
    if (a == b) break;
    int twice = 2 * err;
    if (twice >= dy) err += dy, a.x += step_x;
    if (twice <= dx) err += dx, a.y += step_y;
  }
}

// Joins consecutive drawable points; a point that cannot be drawn breaks the line.
void draw_series(Canvas& canvas, const Series& series, bool log_y, Rgb color, const Mapping& map) {
  const bool markers = series.x.size() <= kMarkerMaxPoints;
  Point previous;  // not a std::optional: GCC 12 -O1 reports it maybe-uninitialized
  bool has_previous = false;
  for (size_t i = 0; i < series.x.size(); ++i) {
    std::optional<double> xv = to_axis_space(series.x[i], false), yv = to_axis_space(series.y[i], log_y);
    if (!xv || !yv) {
      has_previous = false;
      continue;
    }
    Point p{map.px(*xv), map.py(*yv)};
    draw_line(canvas, has_previous ? previous : p, p, color, map.plot);
    if (markers)
      canvas.fill({p.x - kMarkerRadius, p.y - kMarkerRadius, p.x + kMarkerRadius + 2, p.y + kMarkerRadius + 2}, color,
                  map.plot);
    previous = p;
    has_previous = true;
  }
}

// A box of swatches and names, in the corner of the plot that covers the fewest drawn pixels.
void draw_legend(Canvas& canvas, const Panel& panel, const Rect& plot) {
  std::vector<std::pair<Rgb, Text>> entries;
  int text_width = 0;
  for (size_t i = 0; i < panel.series.size(); ++i)
    if (!panel.series[i].name.empty()) {
      entries.emplace_back(series_color(i), layout_text(panel.series[i].name));
      text_width = std::max(text_width, entries.back().second.width);
    }
  if (entries.empty()) return;
  const int w = 2 * kPad + kGlyphHeight + kPad + text_width;
  const int h = 2 * kPad + static_cast<int>(entries.size() - 1) * kLegendRowPitch + kGlyphHeight + 2;
  const Point corners[] = {{plot.x1 - kPad - w, plot.y0 + kPad},  // top right, top left, bottom right, bottom left
                           {plot.x0 + kPad, plot.y0 + kPad},
                           {plot.x1 - kPad - w, plot.y1 - kPad - h},
                           {plot.x0 + kPad, plot.y1 - kPad - h}};
  Rect best;
  long fewest = std::numeric_limits<long>::max();
  for (const Point& c : corners) {
    Rect box = Rect{c.x, c.y, c.x + w, c.y + h}.intersect(plot);
    long covered = 0;
    for (int y = box.y0; y < box.y1; ++y)
      for (int x = box.x0; x < box.x1; ++x) covered += canvas.at(x, y) != kBackground && canvas.at(x, y) != kGrid;
    if (covered < fewest) fewest = covered, best = Rect{c.x, c.y, c.x + w, c.y + h};
  }
  canvas.fill(best, kLegendBorder, plot);
  canvas.fill({best.x0 + 1, best.y0 + 1, best.x1 - 1, best.y1 - 1}, kBackground, plot);
  for (size_t i = 0; i < entries.size(); ++i) {
    const int row_y = best.y0 + kPad + static_cast<int>(i) * kLegendRowPitch, x = best.x0 + kPad;
    canvas.fill({x, row_y, x + kGlyphHeight, row_y + kGlyphHeight}, entries[i].first, plot);
    draw_text(canvas, entries[i].second, {x + kGlyphHeight + kPad, row_y}, 1, kText, plot);
  }
}

void draw_panel(Canvas& canvas, const Panel& panel, const Rect& area) {
  double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
  for (const Series& s : panel.series)
    for (size_t i = 0; i < s.x.size(); ++i) {
      std::optional<double> xv = to_axis_space(s.x[i], false), yv = to_axis_space(s.y[i], panel.log_y);
      if (!xv || !yv) continue;
      x_lo = std::min(x_lo, *xv), x_hi = std::max(x_hi, *xv), y_lo = std::min(y_lo, *yv), y_hi = std::max(y_hi, *yv);
    }
  const bool have_data = x_lo <= x_hi;
  const Axis x_axis = make_axis(x_lo, x_hi, have_data, false), y_axis = make_axis(y_lo, y_hi, have_data, panel.log_y);
  std::vector<Text> x_ticks, y_ticks;
  int y_label_width = 0;
  for (const std::string& l : x_axis.labels) x_ticks.push_back(layout_text(l));
  for (const std::string& l : y_axis.labels) {
    y_ticks.push_back(layout_text(l));
    y_label_width = std::max(y_label_width, y_ticks.back().width);
  }
  const Text title = layout_text(panel.title), x_label = layout_text(panel.x_label);
  const int title_scale = area.height() >= 200 && title.width * 2 + 2 * kPad <= area.width() ? 2 : 1;

  // The plot rectangle: room above for the title, left for y labels, below for x labels and the x label.
  Rect plot;
  plot.x0 = area.x0 + kPad + y_label_width + kTickLength + 2;
  plot.x1 = area.x1 - std::max(3 * kPad, x_ticks.empty() ? 0 : x_ticks.back().width / 2 + kPad);
  plot.y0 = area.y0 + kPad + (title.width > 0 ? kGlyphHeight * title_scale + 2 * kPad : 0) + kGlyphHeight / 2 + 1;
  plot.y1 = area.y1 - kPad - (x_label.width > 0 ? kGlyphHeight + kPad + 2 : 0) - (kGlyphHeight + 2) - kTickLength - 2;
  plot.x1 = std::max(plot.x1, std::min(area.x1, plot.x0 + 4));
  plot.y1 = std::max(plot.y1, std::min(area.y1, plot.y0 + 4));
  const Mapping map{plot, x_axis, y_axis};

  for (double t : x_axis.ticks) canvas.fill({map.px(t), plot.y0, map.px(t) + 1, plot.y1}, kGrid, plot);
  for (double t : y_axis.ticks) canvas.fill({plot.x0, map.py(t), plot.x1, map.py(t) + 1}, kGrid, plot);
  for (size_t i = 0; i < panel.series.size(); ++i)
    draw_series(canvas, panel.series[i], panel.log_y, series_color(i), map);
  draw_legend(canvas, panel, plot);

  // The frame, tick marks and tick labels (a label that would overlap its neighbour is left out).
  canvas.fill({plot.x0, plot.y0, plot.x1, plot.y0 + 1}, kFrame, area);
  canvas.fill({plot.x0, plot.y1 - 1, plot.x1, plot.y1}, kFrame, area);
  canvas.fill({plot.x0, plot.y0, plot.x0 + 1, plot.y1}, kFrame, area);
  canvas.fill({plot.x1 - 1, plot.y0, plot.x1, plot.y1}, kFrame, area);
  int y_labels_top = std::numeric_limits<int>::max();  // ticks ascend, so labels go up the image
  for (size_t i = 0; i < y_axis.ticks.size(); ++i) {
    const int y = map.py(y_axis.ticks[i]), top = y - kGlyphHeight / 2;
    canvas.fill({plot.x0 - kTickLength, y, plot.x0, y + 1}, kFrame, area);
    if (top + kGlyphHeight + 2 > y_labels_top) continue;
    draw_text(canvas, y_ticks[i], {plot.x0 - kTickLength - 2 - y_ticks[i].width, top}, 1, kText, area);
    y_labels_top = top;
  }
  int x_labels_end = std::numeric_limits<int>::min();
  const int x_labels_y = plot.y1 + kTickLength + 2;
  for (size_t i = 0; i < x_axis.ticks.size(); ++i) {
    const int x = map.px(x_axis.ticks[i]);
    canvas.fill({x, plot.y1, x + 1, plot.y1 + kTickLength}, kFrame, area);
    const int left = x - x_ticks[i].width / 2;
    if (left < x_labels_end + kPad) continue;
    draw_text(canvas, x_ticks[i], {left, x_labels_y}, 1, kText, area);
    x_labels_end = left + x_ticks[i].width;
  }
  const int plot_center = (plot.x0 + plot.x1) / 2;
  draw_text(canvas, x_label, {plot_center - x_label.width / 2, x_labels_y + kGlyphHeight + 2 + kPad}, 1, kText, area);
  draw_text(canvas, title, {plot_center - title.width * title_scale / 2, area.y0 + kPad}, title_scale, kText, area);
}

void check_plot_input(const std::vector<Panel>& panels, const PlotOptions& opts) {
  EMBER_CHECK(!panels.empty(), "plot: no panels to draw (give at least one Panel)");
  EMBER_CHECK(opts.width <= kMaxPlotPixels && opts.height <= kMaxPlotPixels, "plot: a ", opts.width, "x", opts.height,
              " image is too large (at most ", kMaxPlotPixels, " pixels a side)");
  EMBER_CHECK(opts.width >= kMinPanelPixels && opts.height >= kMinPanelPixels &&
                  panels.size() <= static_cast<size_t>(opts.width / kMinPanelPixels),
              "plot: a ", opts.width, "x", opts.height, " image is too small for ", panels.size(),
              " panel(s) side by side: each panel needs at least ", kMinPanelPixels, "x", kMinPanelPixels, " pixels");
  for (size_t p = 0; p < panels.size(); ++p)
    for (size_t s = 0; s < panels[p].series.size(); ++s) {
      const Series& series = panels[p].series[s];
      EMBER_CHECK(series.x.size() == series.y.size(), "plot: panel ", p, " '", panels[p].title, "', series ", s, " '",
                  series.name, "': x has ", series.x.size(), " values but y has ", series.y.size(),
                  " (they must be the same length)");
    }
}

}  // namespace

Rgb series_color(size_t index) { return kPalette[index % std::size(kPalette)]; }

std::vector<uint8_t> render_plot(const std::vector<Panel>& panels, PlotOptions opts, int* width_out, int* height_out) {
  check_plot_input(panels, opts);
  Canvas canvas(opts.width, opts.height);
  const int n = static_cast<int>(panels.size());
  for (int i = 0; i < n; ++i)
    draw_panel(canvas, panels[static_cast<size_t>(i)], {i * opts.width / n, 0, (i + 1) * opts.width / n, opts.height});
  if (width_out) *width_out = opts.width;
  if (height_out) *height_out = opts.height;
  return std::move(canvas).take();
}

void write_plot_png(const std::string& path, const std::vector<Panel>& panels, PlotOptions opts) {
  int width = 0, height = 0;
  const std::vector<uint8_t> rgb = render_plot(panels, opts, &width, &height);
  std::vector<uint8_t> png;
  auto append = [](void* context, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(context);
    const auto* bytes = static_cast<const uint8_t*>(data);
    out->insert(out->end(), bytes, bytes + size);
  };
  const int encoded = stbi_write_png_to_func(append, &png, width, height, 3, rgb.data(), width * 3);
  EMBER_CHECK(encoded && !png.empty(), "write_plot_png: could not encode the ", width, "x", height,
              " image as PNG for '", path, "'");
  runtime::write_file_atomically(path, std::string_view(reinterpret_cast<const char*>(png.data()), png.size()),
                                 "write_plot_png");
}

}  // namespace ember::train
