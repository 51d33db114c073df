# cmake -DINPUT=lib.js -DOUTPUT=lib.cpp -DNAME=symbol -P embed_script.cmake
#
# Writes OUTPUT, a C++ source defining `const std::string_view p2pfaas::bench::NAME` that holds
# INPUT's bytes, unchanged, as one raw string literal (GCC and Clang take literals of any length).
# The text is meant to be inlined in an HTML <script> element, so a file holding "</script" or
# "<!--" (either would end or disturb the element) is refused, as is one the literal could not
# hold byte for byte: NUL or CR bytes, or the literal's own closing delimiter.
cmake_minimum_required(VERSION 3.25)

foreach(var INPUT OUTPUT NAME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_script.cmake: -D${var}=... is missing")
  endif()
endforeach()

# NUL and CR bytes first (file(READ) would keep the one and turn CRLF into LF), byte by byte.
file(READ "${INPUT}" hex HEX)
string(REGEX MATCHALL ".." bytes "${hex}")
foreach(byte 00 0d)
  list(FIND bytes ${byte} at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${INPUT}: holds byte 0x${byte} at offset ${at}; it cannot be embedded")
  endif()
endforeach()

file(READ "${INPUT}" text)
file(SIZE "${INPUT}" size)
string(LENGTH "${text}" length)
if(NOT length EQUAL size)
  message(FATAL_ERROR "${INPUT}: read ${length} of ${size} bytes")
endif()

set(delimiter "p2pfaas_embed")
string(TOLOWER "${text}" lower)
foreach(bad "</script" "<!--" ")${delimiter}\"")
  string(FIND "${lower}" "${bad}" at)
  if(NOT at EQUAL -1)
    message(FATAL_ERROR "${INPUT}: holds ${bad} at offset ${at}; it cannot be embedded")
  endif()
endforeach()

get_filename_component(input_name "${INPUT}" NAME)
file(WRITE "${OUTPUT}"
  "// Generated from ${input_name} by bench/embed_script.cmake at build time; do not edit.\n"
  "#include <string_view>\n\n"
  "namespace p2pfaas::bench {\n\n"
  "namespace {\n"
  "const char ${NAME}_text[] = R\"${delimiter}(${text})${delimiter}\";\n"
  "}  // namespace\n\n"
  "extern const std::string_view ${NAME};\n"
  "const std::string_view ${NAME}{${NAME}_text, sizeof ${NAME}_text - 1};\n\n"
  "}  // namespace p2pfaas::bench\n")
