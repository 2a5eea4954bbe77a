#pragma once
// Whole numbers out of JSON that k9 did not just make (journal entries, state files):
// nlohmann's get<T>() converts a float that does not fit T with undefined behaviour
// (found by fuzz_journal_entry), so such values go through json_integer().

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

namespace k9 {

// The integer `v` holds, as T. Throws nlohmann::json::type_error, as get<T>() does for a
// value of the wrong type, when `v` is not an integer (a float, even 1.0, or anything
// else) or does not fit T.
template <std::integral T>
T json_integer(const nlohmann::json& v) {
    auto refuse = [&](const char* why) {
        throw nlohmann::json::type_error::create(
            302, std::string("type must be an integer that fits, but ") + why, &v);
    };
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max()))
            refuse("it is too large");
        return static_cast<T>(u);
    }
    if (!v.is_number_integer()) refuse(v.is_number() ? "it is not whole" : "it is not a number");
    const auto i = v.get<std::int64_t>();
    if constexpr (std::is_unsigned_v<T>) {
        if (i < 0) refuse("it is negative");
        if (static_cast<std::uint64_t>(i) > std::numeric_limits<T>::max())
            refuse("it is too large");
    } else {
        if (i < std::numeric_limits<T>::min() || i > std::numeric_limits<T>::max())
            refuse("it is out of range");
    }
    return static_cast<T>(i);
}

}  // namespace k9
