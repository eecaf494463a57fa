// ImageFolder: scans root/<class>/... once, then decodes one file per get().
// The scan turns file-system errors (permissions, a folder vanishing) into
// ember::Error naming the root, so users see one kind of error.
#include <ember/data/image_folder.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include <ember/data/image.hpp>
#include <ember/runtime/error.hpp>
#include <ember/tensor/factory.hpp>

namespace ember::data {
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kDefaultExtensions = {"png", "jpg", "jpeg", "bmp", "tga", "gif", "ppm", "pgm"};

std::string lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// Lower-case extensions without their leading dot.
std::set<std::string> normalise_extensions(const std::vector<std::string>& given) {
  std::set<std::string> out;
  for (const std::string& e : given.empty() ? kDefaultExtensions : given) {
    std::string x = lower(e);
    if (!x.empty() && x[0] == '.') x.erase(0, 1);
    EMBER_CHECK(!x.empty(), "ImageFolder: an empty extension in ImageFolderOptions::extensions");
    out.insert(x);
  }
  return out;
}

bool is_hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

std::string join(const std::set<std::string>& items) {
  std::string s;
  for (const std::string& x : items) s += (s.empty() ? "" : " ") + x;
  return s;
}

}  // namespace

ImageFolder::ImageFolder(std::string root, ImageFolderOptions opts) : root_(std::move(root)), opts_(std::move(opts)) {
  const std::set<std::string> extensions = normalise_extensions(opts_.extensions);
  const std::string layout = "expected one subfolder per class holding its images: root/<class_name>/<image>";
  std::error_code ec;
  EMBER_CHECK(fs::exists(root_, ec), "ImageFolder: root '", root_, "' does not exist (", layout, ")");
  EMBER_CHECK(fs::is_directory(root_, ec), "ImageFolder: root '", root_, "' is not a folder (", layout, ")");
  try {
    for (const fs::directory_entry& entry : fs::directory_iterator(root_))
      if (entry.is_directory() && !is_hidden(entry.path())) classes_.push_back(entry.path().filename().string());
    std::sort(classes_.begin(), classes_.end());
    EMBER_CHECK(!classes_.empty(), "ImageFolder: root '", root_, "' has no class folders (", layout, ")");

    std::vector<std::string> empty_classes;
    for (size_t c = 0; c < classes_.size(); ++c) {
      std::vector<std::string> files;
      const fs::path class_dir = fs::path(root_) / classes_[c];
      for (fs::recursive_directory_iterator it(class_dir), end; it != end; ++it) {
        if (is_hidden(it->path())) {
          if (it->is_directory()) it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file()) continue;
        std::string ext = lower(it->path().extension().string());
        if (!ext.empty() && extensions.count(ext.substr(1))) files.push_back(it->path().string());
      }
      if (files.empty()) empty_classes.push_back(classes_[c]);
      std::sort(files.begin(), files.end());
      for (std::string& f : files) samples_.push_back({std::move(f), static_cast<int64_t>(c)});
    }
    EMBER_CHECK(!samples_.empty(), "ImageFolder: root '", root_, "' has ", classes_.size(),
                " class folder(s) but no images in them (looked for extensions: ", join(extensions), ")");
    if (!empty_classes.empty()) {
      std::string names;
      for (const std::string& n : empty_classes) names += (names.empty() ? "'" : ", '") + n + "'";
      EMBER_FAIL("ImageFolder: root '", root_, "': class folder(s) ", names,
                 " hold no images (looked for extensions: ", join(extensions),
                 "); every class folder needs at least one image");
    }
  } catch (const fs::filesystem_error& e) {
    EMBER_FAIL("ImageFolder: cannot scan root '", root_, "': ", e.what());
  }
}

Example ImageFolder::get(int64_t index) const {
  check_index(*this, index);
  const Sample& s = samples_[static_cast<size_t>(index)];
  return Example{read_image(s.path, opts_.channels), scalar_tensor(s.class_index, kInt64)};
}

}  // namespace ember::data
