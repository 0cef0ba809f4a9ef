# Helpers for ipckit's own targets (tests, examples, benchmarks). Nothing here touches the
# ipckit target itself: warnings and sanitizers must not leak into consumers' builds.

# ipckit_target_defaults(<target> [SANITIZE] [SANITIZERS <list>])
#   Strict standard C++ and warnings; with SANITIZE, also the sanitizers named in
#   IPCKIT_SANITIZE (tests and examples want them, benchmarks do not); with SANITIZERS, those
#   sanitizers whatever IPCKIT_SANITIZE says (a program that is only worth running under them).
function(ipckit_target_defaults target)
  cmake_parse_arguments(PARSE_ARGV 1 arg "SANITIZE" "SANITIZERS" "")
  set_target_properties(${target} PROPERTIES CXX_EXTENSIONS OFF)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow
    $<$<BOOL:${IPCKIT_WERROR}>:-Werror>)
  set(sanitizers "")
  if(arg_SANITIZERS)
    set(sanitizers "${arg_SANITIZERS}")
  elseif(arg_SANITIZE AND IPCKIT_SANITIZE)
    set(sanitizers "${IPCKIT_SANITIZE}")
  endif()
  if(sanitizers)
    target_compile_options(${target} PRIVATE
      -fsanitize=${sanitizers} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${sanitizers})
  endif()
endfunction()

# ipckit_add_executables(<out-var> SOURCES <file>... [LIBRARIES <lib>...] [SANITIZE]
#                        [SANITIZERS <list>])
#   One executable per source file, named after the file (producer.cpp -> producer),
#   linked with ipckit::ipckit and LIBRARIES. The target names go to <out-var>. SANITIZE and
#   SANITIZERS as for ipckit_target_defaults.
function(ipckit_add_executables out_var)
  cmake_parse_arguments(PARSE_ARGV 1 arg "SANITIZE" "SANITIZERS" "SOURCES;LIBRARIES")
  set(sanitize "")
  if(arg_SANITIZE)
    set(sanitize SANITIZE)
  endif()
  if(arg_SANITIZERS)
    list(APPEND sanitize SANITIZERS "${arg_SANITIZERS}")
  endif()
  set(targets "")
  foreach(source IN LISTS arg_SOURCES)
    get_filename_component(name "${source}" NAME_WLE)
    add_executable(${name} "${source}")
    target_link_libraries(${name} PRIVATE ipckit::ipckit ${arg_LIBRARIES})
    ipckit_target_defaults(${name} ${sanitize})
    list(APPEND targets ${name})
  endforeach()
  set(${out_var} "${targets}" PARENT_SCOPE)
endfunction()

# ipckit_write_if_changed(<path> <content>)
#   Writes a generated source only when its content changes, so that re-running CMake does
#   not force a rebuild. (Plain file(WRITE): file(CONFIGURE) and file(GENERATE) would
#   expand @VAR@ or $<...> that may well occur in C++ code.)
function(ipckit_write_if_changed path content)
  if(EXISTS "${path}")
    file(READ "${path}" old)
    if(old STREQUAL content)
      return()
    endif()
  endif()
  file(WRITE "${path}" "${content}")
endfunction()
