// The PNG line-plot writer (train/plot.hpp): image size and background, lines
// drawn where their data says (not mirrored), palette colours, legend
// placement, gaps and degenerate series, text, the PNG round trip through
// stb_image, the atomic write, and errors that name the panel, series or path.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include <ember/train/plot.hpp>

#include "test_util.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb/stb_image.h>

using namespace ember::train;
using ember::testing::expect_error;
namespace fs = std::filesystem;

namespace {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // (height, width, 3)
  Rgb at(int x, int y) const {
    const uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
    return {p[0], p[1], p[2]};
  }
  bool dark(int x, int y) const {
    Rgb c = at(x, y);
    return c.r < 128 && c.g < 128 && c.b < 128;
  }
};

Image render(const std::vector<Panel>& panels, PlotOptions opts = {}) {
  Image img;
  img.rgb = render_plot(panels, opts, &img.width, &img.height);
  return img;
}

struct Pixel {
  int x, y;
};

std::vector<Pixel> pixels_of(const Image& img, Rgb color) {
  std::vector<Pixel> found;
  for (int y = 0; y < img.height; ++y)
    for (int x = 0; x < img.width; ++x)
      if (img.at(x, y) == color) found.push_back({x, y});
  return found;
}

struct Box {
  int x0 = std::numeric_limits<int>::max(), y0 = x0, x1 = -1, y1 = -1;  // inclusive
  explicit Box(const std::vector<Pixel>& ps) {
    for (const Pixel& p : ps) x0 = std::min(x0, p.x), y0 = std::min(y0, p.y), x1 = std::max(x1, p.x), y1 = std::max(y1, p.y);
  }
};

// How many of the pixels fall in the given third (0, 1, 2 from left / from top) of the box.
int count_in_third(const std::vector<Pixel>& ps, const Box& b, int col, int row) {
  const double w = (b.x1 - b.x0 + 1) / 3.0, h = (b.y1 - b.y0 + 1) / 3.0;
  int n = 0;
  for (const Pixel& p : ps)
    n += static_cast<int>((p.x - b.x0) / w) == col && static_cast<int>((p.y - b.y0) / h) == row;
  return n;
}

Panel line_panel(double y0, double y1, std::string name = "") {
  return Panel{"line", "x", {Series{std::move(name), {0.0, 1.0}, {y0, y1}}}};
}

fs::path fresh_temp_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST(Plot, RenderHasTheRequestedSizeOnWhite) {
  Image img = render({line_panel(0, 1)}, {900, 360});
  ASSERT_EQ(img.width, 900);
  ASSERT_EQ(img.height, 360);
  ASSERT_EQ(img.rgb.size(), 900u * 360u * 3u);
  const Rgb white{255, 255, 255};
  for (auto [x, y] : {std::pair{0, 0}, {899, 0}, {0, 359}, {899, 359}}) EXPECT_EQ(img.at(x, y), white) << x << "," << y;
  EXPECT_EQ(render_plot({line_panel(0, 1)}, {200, 100}).size(), 200u * 100u * 3u);  // the size outputs are optional
}

TEST(Plot, LinesFollowTheirDataNotItsMirror) {
  for (bool rising : {true, false}) {
    SCOPED_TRACE(rising ? "rising" : "falling");
    Image img = render({line_panel(rising ? 0 : 1, rising ? 1 : 0)}, {400, 300});
    std::vector<Pixel> ps = pixels_of(img, series_color(0));
    ASSERT_GT(ps.size(), 200u);
    Box b(ps);
    ASSERT_GT(b.x1 - b.x0, 200);  // the line spans most of the plot area
    ASSERT_GT(b.y1 - b.y0, 150);
    // Image rows grow downward: a rising line goes from the lower left to the upper right.
    const int start_row = rising ? 2 : 0, end_row = rising ? 0 : 2;
    EXPECT_GT(count_in_third(ps, b, 0, start_row), 0);
    EXPECT_GT(count_in_third(ps, b, 2, end_row), 0);
    EXPECT_EQ(count_in_third(ps, b, 0, end_row), 0);
    EXPECT_EQ(count_in_third(ps, b, 2, start_row), 0);
    // Every coloured pixel lies within a few pixels of the segment between the box's corners.
    const double ax = b.x0, ay = rising ? b.y1 : b.y0, bx = b.x1, by = rising ? b.y0 : b.y1;
    const double len = std::hypot(bx - ax, by - ay);
    for (const Pixel& p : ps) {
      double distance = std::fabs((bx - ax) * (ay - p.y) - (ax - p.x) * (by - ay)) / len;
      ASSERT_LE(distance, 5.0) << "pixel " << p.x << "," << p.y << " is off the line";
    }
    // And the line is continuous: every column of the box holds a coloured pixel.
    std::vector<bool> column(static_cast<size_t>(b.x1 - b.x0 + 1));
    for (const Pixel& p : ps) column[static_cast<size_t>(p.x - b.x0)] = true;
    for (size_t c = 0; c < column.size(); ++c) ASSERT_TRUE(column[c]) << "no line pixel in column " << b.x0 + c;
  }
}

TEST(Plot, EachSeriesGetsItsOwnPaletteColour) {
  for (size_t i = 0; i < 10; ++i)
    for (size_t j = 0; j < i; ++j) EXPECT_NE(series_color(i), series_color(j)) << i << " vs " << j;
  EXPECT_EQ(series_color(10), series_color(0));  // the palette repeats
  Panel loss{"loss", "epoch", {{"train", {1, 2, 3}, {2.0, 1.0, 0.5}}, {"valid", {1, 2, 3}, {2.2, 1.4, 1.1}}}};
  Image img = render({loss, Panel{"accuracy", "epoch", {{"valid", {1, 2, 3}, {0.5, 0.7, 0.8}}}}});
  EXPECT_GT(pixels_of(img, series_color(0)).size(), 100u);
  EXPECT_GT(pixels_of(img, series_color(1)).size(), 100u);
  EXPECT_TRUE(pixels_of(img, series_color(2)).empty());
}

TEST(Plot, LegendOfNamedSeriesSitsInAnEmptyCorner) {
  Image unnamed = render({line_panel(0, 1)}, {400, 300});
  Image named = render({line_panel(0, 1, "train loss")}, {400, 300});
  std::vector<Pixel> line = pixels_of(unnamed, series_color(0)), swatch;
  for (const Pixel& p : pixels_of(named, series_color(0)))
    if (unnamed.at(p.x, p.y) != series_color(0)) swatch.push_back(p);
  ASSERT_FALSE(swatch.empty()) << "no legend swatch";
  // A rising line leaves the upper-left corner free; the swatch goes there, not over the line.
  Box b(line);
  for (const Pixel& p : swatch) {
    EXPECT_LT(p.x, (b.x0 + b.x1) / 2);
    EXPECT_LT(p.y, (b.y0 + b.y1) / 2);
  }
}

TEST(Plot, GapsAndDegenerateSeriesRender) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  // A NaN point breaks the line: nothing is drawn where it would have been.
  Image gap = render({Panel{"gap", "", {{"", {0, 1, 2, 3, 4}, {0, 1, nan, 3, 4}}}}}, {400, 300});
  std::vector<Pixel> ps = pixels_of(gap, series_color(0));
  ASSERT_FALSE(ps.empty());
  Box b(ps);
  const int cx = (b.x0 + b.x1) / 2, cy = (b.y0 + b.y1) / 2;
  for (int y = cy - 3; y <= cy + 3; ++y)
    for (int x = cx - 3; x <= cx + 3; ++x) EXPECT_NE(gap.at(x, y), series_color(0)) << "gap not left at " << x << "," << y;

  std::vector<Panel> odd = {
      Panel{"nan and inf", "", {{"a", {0, 1, 2, inf, 4}, {1, -inf, 2, 3, nan}}, {"all nan", {nan, nan}, {nan, nan}}}},
      Panel{"constant", "", {{"c", {1, 2, 3}, {0.5, 0.5, 0.5}}}},
      Panel{"single point", "", {{"p", {3}, {7}}}},
      Panel{"empty", "", {}},
      Panel{"empty series", "", {{"e", {}, {}}}},
      Panel{"log with non-positive", "", {{"l", {0, 1, 2, 3}, {-1, 0, 0.1, 10}}}, true},
      Panel{"log all non-positive", "", {{"l", {0, 1}, {-1, 0}}}, true},
      Panel{"huge and tiny", "", {{"h", {0, 1}, {1e-300, 1e300}}, {"z", {0, 1e-310}, {0, 1e-310}}}, true},
  };
  Image img;
  ASSERT_NO_THROW(img = render(odd, {8 * 120, 200}));
  // The constant and the single point are drawn (each panel's first series is palette colour 0).
  auto coloured_in_panel = [&](int panel) {
    int n = 0;
    for (const Pixel& p : pixels_of(img, series_color(0))) n += p.x / 120 == panel;
    return n;
  };
  EXPECT_GT(coloured_in_panel(1), 20);
  EXPECT_GT(coloured_in_panel(2), 10);
  EXPECT_GT(coloured_in_panel(5), 20);  // the log panel draws its positive points
}

TEST(Plot, TitleIsDrawnAboveThePlot) {
  auto dark_above_frame = [](const std::string& title) {
    Panel panel{title, "", {{"", {0, 1}, {0, 1}}}};
    Image img = render({panel}, {400, 300});
    // The frame's top edge is the first row that is mostly dark.
    int frame_top = -1;
    for (int y = 0; y < img.height && frame_top < 0; ++y) {
      int dark = 0;
      for (int x = 0; x < img.width; ++x) dark += img.dark(x, y);
      if (dark > img.width / 2) frame_top = y;
    }
    EXPECT_GT(frame_top, 0);
    int dark = 0;
    for (int y = 0; y < frame_top; ++y)
      for (int x = img.width / 4; x < img.width * 3 / 4; ++x) dark += img.dark(x, y);
    return dark;
  };
  EXPECT_GT(dark_above_frame("TRAINING LOSS"), 30);
  EXPECT_EQ(dark_above_frame(""), 0);
  EXPECT_GT(dark_above_frame("caf\xc3\xa9\t\x7f"), 10);  // bytes outside printable ASCII are drawn as '?'
}

TEST(Plot, WritesAPngThatDecodesToTheRenderedPixels) {
  fs::path dir = fresh_temp_dir("ember_plot_png");
  const std::string path = (dir / "curves.png").string();
  std::vector<Panel> panels = {Panel{"loss", "epoch", {{"train", {1, 2, 3, 4}, {2, 1.2, 0.8, 0.7}}}},
                               Panel{"accuracy", "epoch", {{"valid", {1, 2, 3, 4}, {0.4, 0.6, 0.7, 0.75}}}}};
  for (int round = 0; round < 2; ++round) {  // the second write replaces the first
    SCOPED_TRACE(round);
    PlotOptions opts{round == 0 ? 640 : 500, 240};
    write_plot_png(path, panels, opts);
    Image expected = render(panels, opts);
    int w = 0, h = 0, channels = 0;
    uint8_t* decoded = stbi_load(path.c_str(), &w, &h, &channels, 3);
    ASSERT_NE(decoded, nullptr) << stbi_failure_reason();
    EXPECT_EQ(w, expected.width);
    EXPECT_EQ(h, expected.height);
    EXPECT_EQ(channels, 3);
    if (w == expected.width && h == expected.height) {
      EXPECT_TRUE(std::equal(expected.rgb.begin(), expected.rgb.end(), decoded)) << "decoded pixels differ";
    }
    stbi_image_free(decoded);
    std::vector<fs::path> files(fs::directory_iterator(dir), fs::directory_iterator{});
    ASSERT_EQ(files.size(), 1u) << "a temporary file was left behind";
    EXPECT_EQ(files[0].filename(), "curves.png");
  }
  fs::remove_all(dir);
}

TEST(Plot, ErrorsNameTheProblem) {
  Panel loss{"loss", "", {{"train", {1, 2, 3}, {1, 2}}}};
  expect_error([&] { render_plot({loss}, {}); }, {"panel 0 'loss'", "series 0 'train'", "x has 3", "y has 2"});
  expect_error([] { render_plot({}, {}); }, {"no panels"});
  expect_error([] { render_plot({line_panel(0, 1)}, {63, 300}); }, {"63x300", "too small", "64x64"});
  expect_error([] { render_plot({line_panel(0, 1)}, {300, 10}); }, {"300x10", "too small"});
  expect_error([] { render_plot({line_panel(0, 1), line_panel(1, 0)}, {100, 300}); }, {"100x300", "2 panel"});
  expect_error([] { render_plot({line_panel(0, 1)}, {-5, 300}); }, {"too small"});
  expect_error([] { render_plot({line_panel(0, 1)}, {100000, 300}); }, {"too large"});
  expect_error([&] { write_plot_png("/tmp/unused.png", {loss}); }, {"x has 3"});

  const std::string missing = "/nonexistent_ember_dir/plot.png";
  expect_error([&] { write_plot_png(missing, {line_panel(0, 1)}); }, {missing, "cannot create"});
  // A path that is a folder: the temporary file is written, the rename fails, and it is removed.
  fs::path dir = fresh_temp_dir("ember_plot_err");
  fs::create_directory(dir / "taken.png");
  const std::string taken = (dir / "taken.png").string();
  expect_error([&] { write_plot_png(taken, {line_panel(0, 1)}); }, {taken, "rename"});
  EXPECT_FALSE(fs::exists(taken + ".tmp"));
  fs::remove_all(dir);
}
