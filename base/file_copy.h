// Copying a file's bytes from one open fd to another.
#pragma once

#include <string>

namespace kiln {

// Copies everything from the current offset of `in` to its end onto `out` (at its current
// offset), streamed, never held in memory. copy_file_range first, so the kernel may share
// extents or copy server-side; where it cannot (EXDEV across file systems on older kernels,
// ENOSYS, EINVAL, EOPNOTSUPP for special files or file systems without it) the rest is
// copied with read/write. Throws kiln::Error "cannot copy <src_what>", "cannot read
// <src_what>" or, from a failed write, naming dst_what.
void copy_file_data(int in, int out, const std::string& src_what, const std::string& dst_what);

}  // namespace kiln
