/* The fuzz build only: stb_image compiled from Debian's header (the same
 * version as the libstb the project links), so that the fuzzer sees its
 * branches and AddressSanitizer its memory accesses. The executables'
 * definitions take the place of libstb's. Never part of the normal build. */
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
