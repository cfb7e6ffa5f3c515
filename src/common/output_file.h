// output_file.h — the one way smaragdine writes a file (docs/security.md).
//
// Every output (-o of account, report, diff, simulate; record's run directory;
// profile.json; run.json) goes through AtomicFile, so none can be redirected
// by a name someone else planted:
//
//   SMG_RETURN_IF_ERROR(CheckOutput(out, {{"--trace", trace}}));  // early, before the work
//   SMG_ASSIGN_OR_RETURN(AtomicFile f, AtomicFile::Create(out));
//   SMG_RETURN_IF_ERROR(f.Write(piece));  …
//   SMG_RETURN_IF_ERROR(f.Commit());      // replaces `out` whole, or leaves it as it was
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/status.h"

namespace smaragdine {

// Writes atomically (AtomicFile::Create, Write, Commit).
Status WriteFileAtomic(const std::string& path, std::string_view contents);

// Writes a whole output file, or nothing. What `path` names decides how (its
// last component is never followed):
//   nothing, or a regular file: a new temporary file beside it (".NAME.tmp-RANDOM",
//     O_CREAT|O_EXCL|O_NOFOLLOW, mode 0666 less the umask, or the old file's mode),
//     written, fsync'ed and renamed over NAME by Commit(). Destroyed without
//     Commit() (an error on the way), it removes the temporary and NAME stays.
//   a character or block device, a FIFO: written in place (`-o /dev/null` stays
//     the device; a FIFO's open waits for its reader, as a shell's `>` does).
//   a symbolic link, a directory, a socket: refused (kBadInput naming `path`).
// The directory is opened once, and the temporary is created, renamed and
// removed relative to it. Errors: kBadInput naming `path`, with errno's text.
// Not thread-safe; movable, not copyable.
class AtomicFile {
 public:
  static Result<AtomicFile> Create(const std::string& path);
  // `name` (one path component) in the directory open as `dir_fd`, which stays
  // the caller's and must stay open until Commit(); `dir_path` names it in
  // messages. For a directory whose names the caller owns but another user can
  // write (record's run directory under --user): whatever non-directory is at
  // `name` is replaced by the rename (a planted link is replaced, never followed),
  // and Commit() also fsyncs the directory.
  static Result<AtomicFile> CreateAt(int dir_fd, const std::string& dir_path,
                                     const std::string& name);
  // As Create, for `name` (one path component) in the directory open as
  // `dir_fd` (an OutputDirectory's): what is at `name` decides, as above, looked
  // at and replaced relative to `dir_fd`, which stays the caller's and must stay
  // open until Commit(); `dir_path` names it in messages.
  static Result<AtomicFile> CreateIn(int dir_fd, const std::string& dir_path,
                                     const std::string& name);
  AtomicFile(AtomicFile&& other) noexcept;
  AtomicFile& operator=(AtomicFile&&) = delete;
  AtomicFile(const AtomicFile&) = delete;
  ~AtomicFile();
  Status Write(std::string_view bytes);
  Status Commit();

 private:
  AtomicFile() = default;
  // Create's and CreateIn's work once the directory is open as `dir_fd` (closed
  // with the file when `owns_dir_fd`).
  static Result<AtomicFile> OpenIn(int dir_fd, bool owns_dir_fd, const std::string& path,
                                   const std::string& name);
  std::string path_;      // for messages
  int dir_fd_ = -1;       // the directory of path_; -1 when written in place
  bool owns_dir_fd_ = false;
  bool in_run_dir_ = false;  // CreateAt: any non-directory at name_ is replaced
  std::string name_;      // path_'s last component, relative to dir_fd_
  std::string tmp_name_;  // the temporary, relative to dir_fd_; empty when in place
  int fd_ = -1;           // -1 once committed or moved from
};

// An input of the command, for CheckOutput's messages: `what` is how the user
// gave it ("--trace", "the profile").
struct NamedInput {
  std::string what;
  std::string path;
};

// Before the work: refuses (kBadInput naming `output`) an output that AtomicFile
// would refuse (a symbolic link, a directory, a socket), and one that is the same
// file as an input (same device and inode, so another spelling or a hard link
// counts too; an input directory counts with the files directly in it): writing
// it would destroy the input. A device or FIFO is never compared (writing one
// destroys nothing stored). An output that does not exist yet passes.
Status CheckOutput(const std::string& output, const std::vector<NamedInput>& inputs);

// How OutputDirectory::Open makes and names a folder.
struct OutputDirectoryOptions {
  // What messages call the folder: "folder" for an output folder the user named
  // ("DIR: is a symbolic link …", "cannot create the folder"); "run directory"
  // for record's ("RUN: the run directory is a symbolic link …").
  std::string noun = "folder";
  // The mode a folder Open creates is made with, less the umask.
  mode_t mode = 0777;
};

// An output folder (`-o DIR` of `report --all-scopes`, `simulate`, `sweep`;
// record's run directory): DIR is created if missing (its parents with
// create_directories: the directories above an output are trusted) and opened
// once, O_DIRECTORY|O_NOFOLLOW; a symbolic link as DIR is refused (kBadInput
// naming it), an existing directory is written into. Every file is then made,
// checked and replaced relative to that descriptor (AtomicFile::CreateIn,
// CreateAt, CreateNew), so nothing renamed or planted at DIR's name afterwards
// redirects a write. Movable, not copyable.
class OutputDirectory {
 public:
  static Result<OutputDirectory> Open(const std::string& path,
                                      const OutputDirectoryOptions& options = {});
  OutputDirectory(OutputDirectory&& other) noexcept;
  OutputDirectory& operator=(OutputDirectory&&) = delete;
  OutputDirectory(const OutputDirectory&) = delete;
  ~OutputDirectory();

  // The folder `name` (one component) inside this one, created if missing and
  // opened the same way (a link there is refused).
  Result<OutputDirectory> Sub(const std::string& name) const;
  // CheckOutput for the file `name` in this folder, relative to its descriptor.
  Status Check(const std::string& name, const std::vector<NamedInput>& inputs) const;
  // AtomicFile::CreateIn for the file `name` in this folder.
  Result<AtomicFile> Create(const std::string& name) const;
  // Create, Write and Commit: `name` holds `contents` whole, or is left as it was.
  Status WriteFile(const std::string& name, std::string_view contents) const;

  // For a folder whose names another user can write while we write in it
  // (record's run directory under --user, where the user's command writes its
  // trace): AtomicFile::CreateAt for `name` (whatever non-directory is there is
  // replaced by the rename, never followed).
  Result<AtomicFile> CreateReplacing(const std::string& name) const;
  // A new file `name` appended to while a run goes on (energy.csv): never an
  // existing name, never a link (O_CREAT|O_EXCL|O_NOFOLLOW|O_APPEND, mode 0644
  // less the umask). The descriptor is the caller's to close.
  Result<int> CreateNew(const std::string& name) const;
  // Removes the file `name` (absent is not an error).
  Status Remove(const std::string& name) const;
  // The names in the folder, sorted ("." and ".." left out).
  std::vector<std::string> Entries() const;
  // Hands the folder to `uid`/`gid` (fchown on the descriptor, never a path);
  // an unset id stays as it is.
  Status HandTo(std::optional<uid_t> uid, std::optional<gid_t> gid) const;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // Whether Open (or Sub) made the folder: it was not there before.
  bool created() const { return created_; }

 private:
  OutputDirectory() = default;
  static Result<OutputDirectory> OpenAt(int parent_fd, const std::string& path,
                                        const std::string& name,
                                        const OutputDirectoryOptions& options);
  std::string path_;            // for messages
  std::string noun_ = "folder";  // OutputDirectoryOptions::noun, for messages
  int fd_ = -1;
  bool created_ = false;
};

// Writes to standard output; kBadInput ("standard output: cannot write: …") when
// the C stream reports an error (a full disk, a closed pipe).
Status WriteStdout(std::string_view bytes);
// Flushes standard output; the same error when that or an earlier write failed.
Status FlushStdout();

}  // namespace smaragdine
