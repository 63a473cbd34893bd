# Warnings for our own targets, and the sanitizer switch.
add_library(s3d_warnings INTERFACE)
target_compile_options(s3d_warnings INTERFACE -Wall -Wextra)

if(S3D_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
