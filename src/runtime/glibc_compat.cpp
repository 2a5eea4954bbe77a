// Lets the bootstrap run on Lambda's provided.al2023 (glibc 2.34) although it is built
// on Debian 12 (glibc 2.36). The bootstrap links libstdc++ statically, and GCC 12's
// libstdc++ refers to arc4random (a glibc 2.36 function) for std::random_device, which
// k9 never uses. Defining it here, over getrandom(2) (glibc 2.25), keeps the binary's
// glibc needs at 2.34. Only the bootstrap links this file.
#include <sys/random.h>

#include <cstddef>
#include <cstdint>

extern "C" {

uint32_t arc4random(void) {
    uint32_t value = 0;
    auto* p = reinterpret_cast<unsigned char*>(&value);
    std::size_t got = 0;
    while (got < sizeof value) {
        const ssize_t n = getrandom(p + got, sizeof value - got, 0);
        if (n > 0) got += static_cast<std::size_t>(n);
    }
    return value;
}

}  // extern "C"
