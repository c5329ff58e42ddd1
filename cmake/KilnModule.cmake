# kiln_module(<name> SOURCES ... PUBLIC_HEADERS ... [PUBLIC_DEPS ...] [PRIVATE_DEPS ...])
#
# One module folder is one static library, kiln_<name>, and its headers are
# included as "<name>/<file>.h". A module sees its own folder and the public
# headers of the modules it links, nothing else, so an include that crosses
# the module map's arrows (../shared/DESIGN.md, "Modules") or reaches another
# module's internal header fails to compile. The include trees are symlinks in
# the build directory:
#   include/<name>/<name>/<file>.h -> each public header (what dependents see)
#   private/<name>/<name>          -> the whole folder   (what the module sees)
# PUBLIC_DEPS are the modules its public headers include; PRIVATE_DEPS the
# ones only its sources use.
function(kiln_module name)
  cmake_parse_arguments(PARSE_ARGV 1 M "" "" "SOURCES;PUBLIC_HEADERS;PUBLIC_DEPS;PRIVATE_DEPS")
  set(src ${CMAKE_CURRENT_SOURCE_DIR})
  set(pub ${CMAKE_BINARY_DIR}/include/${name})
  set(priv ${CMAKE_BINARY_DIR}/private/${name})
  file(REMOVE_RECURSE ${pub} ${priv})
  file(MAKE_DIRECTORY ${pub}/${name} ${priv})
  foreach(h IN LISTS M_PUBLIC_HEADERS)
    if(NOT EXISTS ${src}/${h})
      message(FATAL_ERROR "kiln_module(${name}): no header ${h}")
    endif()
    file(CREATE_LINK ${src}/${h} ${pub}/${name}/${h} SYMBOLIC)
  endforeach()
  file(CREATE_LINK ${src} ${priv}/${name} SYMBOLIC)
  add_library(kiln_${name} STATIC ${M_SOURCES})
  target_include_directories(kiln_${name} PUBLIC ${pub} PRIVATE ${priv})
  target_link_libraries(kiln_${name} PUBLIC ${M_PUBLIC_DEPS} PRIVATE ${M_PRIVATE_DEPS})
  # Tests may reach a module's internals (they test them); nothing else may.
  set_property(GLOBAL APPEND PROPERTY KILN_PRIVATE_INCLUDE_DIRS ${priv})
endfunction()
