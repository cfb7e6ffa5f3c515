#include "common/output_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "common/io.h"

namespace smaragdine {

namespace {

Error WriteError(const std::string& path, const std::string& what, int err) {
  return Error{ErrorCode::kBadInput, fmt::format("{}: {}", what, std::strerror(err)), path};
}

// What lstat says is at `name` in `dir_fd`, in words for a refusal.
const char* KindOf(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a regular file";
}

// The refusal of a symbolic link, directory or socket as an output.
Error Refused(const std::string& path, mode_t mode) {
  if (S_ISLNK(mode)) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(path, ec).string();
    return Error{ErrorCode::kBadInput,
                 fmt::format("is a symbolic link{}: smaragdine does not write through links "
                             "(docs/security.md); give the file it points to instead",
                             ec ? "" : " to " + target),
                 path};
  }
  return Error{ErrorCode::kBadInput, fmt::format("cannot write: it is {}", KindOf(mode)), path};
}

bool WrittenInPlace(mode_t mode) { return S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode); }

// ".NAME.tmp-" plus 12 random letters and digits: unpredictable, so nobody can
// plant a link there before it is created, and O_EXCL fails on anything that is.
std::string TempName(const std::string& name) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char random[12];
  size_t got = 0;
  while (got < sizeof random) {
    const ssize_t n = getrandom(random + got, sizeof random - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (errno != EINTR) {
      break;
    }
  }
  // getrandom does not fail on Linux >= 3.17 for 12 bytes; should it, the clock
  // and a counter still vary, and O_EXCL (never a planted name) decides.
  static std::atomic<uint64_t> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  uint64_t mix = static_cast<uint64_t>(now) ^ (counter.fetch_add(1) << 48);
  for (size_t i = got; i < sizeof random; ++i, mix = mix * 6364136223846793005ULL + 1)
    random[i] = static_cast<unsigned char>(mix >> 33);
  // NAME_MAX is 255: a long name is cut in the temporary's name only.
  std::string out = "." + name.substr(0, 200) + ".tmp-";
  for (unsigned char c : random) out.push_back(kAlphabet[c % (sizeof kAlphabet - 1)]);
  return out;
}

}  // namespace

Status WriteFileAtomic(const std::string& path, std::string_view contents) {
  SMG_ASSIGN_OR_RETURN(AtomicFile file, AtomicFile::Create(path));
  SMG_RETURN_IF_ERROR(file.Write(contents));
  return file.Commit();
}

Result<AtomicFile> AtomicFile::Create(const std::string& path) {
  const std::filesystem::path p(path);
  std::string name = p.filename().string();
  if (name.empty() || name == "." || name == "..")
    return Error{ErrorCode::kBadInput, "cannot write: it names a directory", path};
  std::string dir = p.parent_path().string();
  if (dir.empty()) dir = ".";
  // The directory is the caller's to choose (its links are followed); only the
  // last component is looked at without following.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return WriteError(path, "cannot write", errno);
  return OpenIn(dir_fd, true, path, name);
}

Result<AtomicFile> AtomicFile::CreateIn(int dir_fd, const std::string& dir_path,
                                        const std::string& name) {
  const std::string path = dir_path + "/" + name;
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error{ErrorCode::kBadInput, "cannot write: not a file name in the folder", path};
  return OpenIn(dir_fd, false, path, name);
}

Result<AtomicFile> AtomicFile::OpenIn(int dir_fd, bool owns_dir_fd, const std::string& path,
                                      const std::string& name) {
  AtomicFile f;
  f.path_ = path;
  f.name_ = name;
  f.dir_fd_ = dir_fd;
  f.owns_dir_fd_ = owns_dir_fd;
  struct stat st {};
  if (::fstatat(f.dir_fd_, f.name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (WrittenInPlace(st.st_mode)) {
      // O_NOFOLLOW: should the device have turned into a link since the lstat.
      f.fd_ = ::openat(f.dir_fd_, f.name_.c_str(),
                       O_WRONLY | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
      if (f.fd_ < 0) return WriteError(path, "cannot write", errno);
      if (f.owns_dir_fd_) ::close(f.dir_fd_);
      f.dir_fd_ = -1;
      f.owns_dir_fd_ = false;
      return f;
    }
    if (!S_ISREG(st.st_mode)) return Refused(path, st.st_mode);
  } else if (errno != ENOENT) {
    return WriteError(path, "cannot write", errno);
  } else {
    st.st_mode = 0;
  }
  for (int attempt = 0; attempt < 100 && f.fd_ < 0; ++attempt) {
    f.tmp_name_ = TempName(f.name_);
    f.fd_ = ::openat(f.dir_fd_, f.tmp_name_.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (f.fd_ < 0 && errno != EEXIST) {
      const int err = errno;
      f.tmp_name_.clear();
      return WriteError(path, "cannot write", err);
    }
  }
  if (f.fd_ < 0) {
    f.tmp_name_.clear();
    return WriteError(path, "cannot create a temporary file beside it", EEXIST);
  }
  // A file replaced keeps its permissions (not a set-id bit).
  if (S_ISREG(st.st_mode)) (void)::fchmod(f.fd_, st.st_mode & 0777);
  return f;
}

Result<AtomicFile> AtomicFile::CreateAt(int dir_fd, const std::string& dir_path,
                                        const std::string& name) {
  AtomicFile f;
  f.path_ = dir_path + "/" + name;
  f.name_ = name;
  f.dir_fd_ = dir_fd;
  f.in_run_dir_ = true;
  for (int attempt = 0; attempt < 100 && f.fd_ < 0; ++attempt) {
    f.tmp_name_ = TempName(name);
    f.fd_ = ::openat(dir_fd, f.tmp_name_.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f.fd_ < 0 && errno != EEXIST) {
      const int err = errno;
      f.tmp_name_.clear();
      return WriteError(f.path_, "cannot write", err);
    }
  }
  if (f.fd_ < 0) {
    f.tmp_name_.clear();
    return WriteError(f.path_, "cannot create a temporary file beside it", EEXIST);
  }
  return f;
}

AtomicFile::AtomicFile(AtomicFile&& other) noexcept
    : path_(std::move(other.path_)),
      dir_fd_(other.dir_fd_),
      owns_dir_fd_(other.owns_dir_fd_),
      in_run_dir_(other.in_run_dir_),
      name_(std::move(other.name_)),
      tmp_name_(std::move(other.tmp_name_)),
      fd_(other.fd_) {
  other.fd_ = -1;
  other.dir_fd_ = -1;
  other.owns_dir_fd_ = false;
  other.tmp_name_.clear();
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!tmp_name_.empty()) ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
  }
  if (owns_dir_fd_ && dir_fd_ >= 0) ::close(dir_fd_);
}

Status AtomicFile::Write(std::string_view bytes) {
  if (fd_ < 0) return Error{ErrorCode::kInternal, "write after commit", path_};
  if (!WriteAll(fd_, bytes)) return WriteError(path_, "cannot write", errno);
  return {};
}

Status AtomicFile::Commit() {
  if (fd_ < 0) return Error{ErrorCode::kInternal, "commit twice", path_};
  const int fd = fd_;
  fd_ = -1;
  const bool in_place = tmp_name_.empty();
  // In place (a device, a FIFO) there is nothing to make durable; a file is
  // synced before the rename, so a crash leaves the old file or the new one.
  if (!in_place && ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
    return WriteError(path_, "cannot write", err);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    if (!in_place) ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
    return WriteError(path_, "cannot write", err);
  }
  if (in_place) return {};
  // What is at the name now may have changed since Create: only a regular file
  // (or nothing) is replaced, except in a run directory, where rename replaces
  // the entry itself and never writes through it.
  struct stat st {};
  if (!in_run_dir_ && ::fstatat(dir_fd_, name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      !S_ISREG(st.st_mode)) {
    ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
    return Refused(path_, st.st_mode);
  }
  if (::renameat(dir_fd_, tmp_name_.c_str(), dir_fd_, name_.c_str()) != 0) {
    const int err = errno;
    ::unlinkat(dir_fd_, tmp_name_.c_str(), 0);
    return WriteError(path_, "cannot rename into place", err);
  }
  tmp_name_.clear();
  if (in_run_dir_ && ::fsync(dir_fd_) != 0) return WriteError(path_, "cannot write", errno);
  return {};
}

namespace {

// CheckOutput, once `output` is looked at (lstat, or fstatat without following).
Status CheckOutputStat(const std::string& output, const struct stat& out,
                       const std::vector<NamedInput>& inputs) {
  if (WrittenInPlace(out.st_mode)) return {};
  if (!S_ISREG(out.st_mode)) return Refused(output, out.st_mode);
  auto same = [&out](const struct stat& in) {
    return in.st_dev == out.st_dev && in.st_ino == out.st_ino;
  };
  for (const NamedInput& in : inputs) {
    struct stat st {};
    if (::stat(in.path.c_str(), &st) != 0) continue;  // its reader will say why
    std::string hit;
    if (same(st)) {
      hit = in.path;
    } else if (S_ISDIR(st.st_mode)) {
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(in.path, ec)) {
        struct stat e {};
        if (::stat(entry.path().c_str(), &e) == 0 && same(e)) {
          hit = entry.path().string();
          break;
        }
      }
    }
    if (!hit.empty())
      return Error{ErrorCode::kBadInput,
                   fmt::format("the output is the same file as the input {} {}: writing it would "
                               "destroy the input; choose another output",
                               in.what, hit),
                   output};
  }
  return {};
}

}  // namespace

Status CheckOutput(const std::string& output, const std::vector<NamedInput>& inputs) {
  struct stat out {};
  if (::lstat(output.c_str(), &out) != 0) return {};  // not there yet (or Create will say why)
  return CheckOutputStat(output, out, inputs);
}

Result<OutputDirectory> OutputDirectory::Open(const std::string& path,
                                              const OutputDirectoryOptions& options) {
  // A trailing slash would make the kernel follow a link at the last component.
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return Error{ErrorCode::kBadInput, "cannot write: an empty folder name", path};
  const std::filesystem::path p(dir);
  std::string name = p.filename().string();
  std::string parent = p.parent_path().string();
  if (name.empty() || name == "." || name == ".." || dir == "/") {
    // "-o ." or "-o a/..": a folder named by a link-free spelling of itself.
    name = dir;
    parent.clear();
  }
  int parent_fd = AT_FDCWD;
  if (!parent.empty()) {
    // The folders above the output are trusted (docs/security.md): made if
    // missing, their links followed.
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return Error{ErrorCode::kBadInput,
                   fmt::format("cannot create the {}: {}", options.noun, ec.message()), path};
    parent_fd = ::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (parent_fd < 0) return WriteError(path, "cannot create the " + options.noun, errno);
  }
  Result<OutputDirectory> out = OpenAt(parent_fd, path, name, options);
  if (parent_fd != AT_FDCWD) ::close(parent_fd);
  return out;
}

Result<OutputDirectory> OutputDirectory::OpenAt(int parent_fd, const std::string& path,
                                                const std::string& name,
                                                const OutputDirectoryOptions& options) {
  OutputDirectory d;
  d.noun_ = options.noun;
  d.created_ = ::mkdirat(parent_fd, name.c_str(), options.mode) == 0;
  if (!d.created_ && errno != EEXIST)
    return WriteError(path, "cannot create the " + options.noun, errno);
  d.path_ = path;
  while (d.path_.size() > 1 && d.path_.back() == '/') d.path_.pop_back();
  d.fd_ = ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (d.fd_ < 0) {
    const int err = errno;
    struct stat st {};
    if ((err == ELOOP || err == ENOTDIR) &&
        ::fstatat(parent_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        const ssize_t n = ::readlinkat(parent_fd, name.c_str(), target, sizeof target - 1);
        // An output folder's message starts at "is"; a named role says which it is.
        return Error{ErrorCode::kBadInput,
                     fmt::format("{}is a symbolic link{}: smaragdine does not write through links "
                                 "(docs/security.md); give the {} it points to instead",
                                 options.noun == "folder" ? "" : "the " + options.noun + " ",
                                 n > 0 ? " to " + std::string(target, static_cast<size_t>(n))
                                       : "",
                                 options.noun),
                     d.path_};
      }
      return Error{ErrorCode::kBadInput,
                   fmt::format("cannot write files into it: it is {}, not a folder",
                               S_ISREG(st.st_mode) ? "a regular file" : KindOf(st.st_mode)),
                   d.path_};
    }
    return WriteError(d.path_, "cannot open the " + options.noun, err);
  }
  return d;
}

OutputDirectory::OutputDirectory(OutputDirectory&& other) noexcept
    : path_(std::move(other.path_)),
      noun_(std::move(other.noun_)),
      fd_(other.fd_),
      created_(other.created_) {
  other.fd_ = -1;
}

OutputDirectory::~OutputDirectory() {
  if (fd_ >= 0) ::close(fd_);
}

Result<OutputDirectory> OutputDirectory::Sub(const std::string& name) const {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos)
    return Error{ErrorCode::kBadInput, "cannot write: not a folder name", path_ + "/" + name};
  return OpenAt(fd_, path_ + "/" + name, name, OutputDirectoryOptions{});
}

Status OutputDirectory::Check(const std::string& name,
                              const std::vector<NamedInput>& inputs) const {
  struct stat out {};
  if (::fstatat(fd_, name.c_str(), &out, AT_SYMLINK_NOFOLLOW) != 0) return {};
  return CheckOutputStat(path_ + "/" + name, out, inputs);
}

Result<AtomicFile> OutputDirectory::Create(const std::string& name) const {
  return AtomicFile::CreateIn(fd_, path_, name);
}

Status OutputDirectory::WriteFile(const std::string& name, std::string_view contents) const {
  SMG_ASSIGN_OR_RETURN(AtomicFile file, Create(name));
  SMG_RETURN_IF_ERROR(file.Write(contents));
  return file.Commit();
}

Result<AtomicFile> OutputDirectory::CreateReplacing(const std::string& name) const {
  return AtomicFile::CreateAt(fd_, path_, name);
}

Result<int> OutputDirectory::CreateNew(const std::string& name) const {
  const int fd = ::openat(fd_, name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return WriteError(path_ + "/" + name, "cannot create", errno);
  return fd;
}

Status OutputDirectory::Remove(const std::string& name) const {
  if (::unlinkat(fd_, name.c_str(), 0) != 0 && errno != ENOENT)
    return WriteError(path_ + "/" + name, "cannot remove", errno);
  return {};
}

std::vector<std::string> OutputDirectory::Entries() const {
  std::vector<std::string> names;
  // fdopendir takes the descriptor it reads: a duplicate, so ours stays open.
  const int dup_fd = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return names;
  DIR* d = ::fdopendir(dup_fd);
  if (d == nullptr) {
    ::close(dup_fd);
    return names;
  }
  // The duplicate shares the descriptor's offset: start from the top each time.
  ::rewinddir(d);
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

Status OutputDirectory::HandTo(std::optional<uid_t> uid, std::optional<gid_t> gid) const {
  if (!uid && !gid) return {};
  if (::fchown(fd_, uid.value_or(static_cast<uid_t>(-1)), gid.value_or(static_cast<gid_t>(-1))) !=
      0)
    return WriteError(path_, fmt::format("cannot hand the {} to uid {}", noun_,
                                         uid.value_or(static_cast<uid_t>(-1))),
                      errno);
  return {};
}

Status WriteStdout(std::string_view bytes) {
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), stdout) != bytes.size())
    return WriteError("standard output", "cannot write", errno);
  return {};
}

Status FlushStdout() {
  errno = 0;
  if (std::fflush(stdout) != 0 || std::ferror(stdout))
    return WriteError("standard output", "cannot write", errno != 0 ? errno : EIO);
  return {};
}

}  // namespace smaragdine
