#pragma once
// The journal's first assumption, checked before it is relied on: the store honours
// conditional writes. Each journal seq has exactly one owner only because a second
// create-only PUT (If-None-Match: *) of a key fails with 412; a store that ignores the
// header lets two writers both "win" a seq, and one of them loses acknowledged writes.
// Several S3-compatible stores and gateways ignore it; Amazon S3 honours it.
//
// The probe uses one small object beside the snapshot, `<key>.k9-probe`, kept between
// runs: a create-only PUT of it must fail with 412 once it exists (a first PUT may
// create it: then a second must fail), and a PUT with If-Match on an ETag it never had
// must fail (412, or 404 while it does not exist yet). In the steady state that is two
// PUTs, sent together. The verdict is cached per store URL and key for the process.

#include <string>

#include "common/env.hpp"
#include "store/object_store.hpp"

namespace k9::db {

// The store does not honour conditional writes: journal mode cannot be made safe on it.
// A configuration error of K9_DURABILITY (exit 2 for the CLI and k9-api, an init error
// on Lambda); the message names the problem and the ways out.
class UnsafeStore : public k9::ConfigError {
  public:
    explicit UnsafeStore(const std::string& message) : k9::ConfigError("K9_DURABILITY", message) {}
};

// The probe object's key for a snapshot key.
std::string probe_key(const std::string& snapshot_key);

// Throws UnsafeStore when the store ignores If-None-Match: * or If-Match, StoreError
// when the store cannot be reached. Returns at once when this process already checked.
void require_conditional_writes(store::ObjectStore& store, const std::string& snapshot_key);

}  // namespace k9::db
