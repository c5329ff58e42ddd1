// `kiln build` as a library call: read the Dockerfile and .dockerignore, lint
// and lower it, resolve base images (pulling what the store lacks), solve the
// steps, commit the image and export it to every output.
//
// Contract: outputs, tags and entitlements are checked before any step runs;
// scratch files live under the state root's tmp/ and are removed on return;
// errors are kiln::Error (frontend::DockerfileError, a kiln::Error with a
// source excerpt in detail(), for a Dockerfile the frontend refuses).
#pragma once

#include "build/request.h"

namespace kiln::build {

BuildResult build(const BuildRequest& request);

}  // namespace kiln::build
