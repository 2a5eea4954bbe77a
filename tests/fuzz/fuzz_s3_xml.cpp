// S3 response bodies, as k9's S3 client reads them: every parser of store/s3/xml.hpp on the
// same bytes (a cut or garbled body can reach any of them).
// Allowed: StoreError, the documented answer to "not the expected document". Checked: a
// truncated ListObjectsV2 page always carries its continuation token; an UploadId is never
// empty; parse_s3_time never throws.

#include <string>

#include "fuzz_target.hpp"
#include "store/error.hpp"
#include "store/s3/xml.hpp"

namespace {

using k9::fuzz::check;
namespace s3 = k9::store::s3;

template <class Parse>
void allow_store_error(Parse&& parse) {
    try {
        parse();
    } catch (const k9::store::StoreError&) {
    }
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    const std::string_view body = k9::fuzz::as_text(data, size);

    if (const auto error = s3::parse_error(body)) {
        // Fields are copied out of the document: nothing to check but that they are usable.
        check(error->code.size() <= body.size() && error->message.size() <= body.size(),
              "parse_error returned more text than it was given");
    }
    allow_store_error([&] {
        const s3::ListPage page = s3::parse_list_objects_v2(body);
        check(!page.truncated || !page.next_continuation_token.empty(),
              "a truncated ListObjectsV2 page has no continuation token");
    });
    allow_store_error([&] { s3::parse_list_object_versions(body); });
    allow_store_error([&] {
        check(!s3::parse_initiate_multipart(body).empty(),
              "parse_initiate_multipart: empty UploadId");
    });
    allow_store_error([&] { s3::parse_complete_multipart(body); });
    // Timestamps never throw: an unreadable one is 0.
    s3::parse_s3_time(body);
    return 0;
}
