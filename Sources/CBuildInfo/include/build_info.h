#ifndef SSAST_BUILD_INFO_H
#define SSAST_BUILD_INFO_H
/// The git commit this binary was built from, or "unknown" (set by scripts/install through the
/// SSAST_COMMIT environment variable, which Package.swift turns into a define for this file only).
const char *ssast_build_commit(void);
#endif
