# k9's layers: one static library per folder of src/, and the rule that a layer's files
# include only headers of the layers it links (directly or through them). k9_layer()
# records each layer's allowed includes; k9_check_layers() adds a build step that runs
# check_layers.cmake over src/ before any layer compiles, so a violation fails the build.

function(k9_layer layer)
  cmake_parse_arguments(L "" "" "SOURCES;LAYERS;LIBS" ${ARGN})
  add_library(k9_${layer} STATIC ${L_SOURCES})
  target_include_directories(k9_${layer} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  set(allowed ${layer})
  foreach(dep IN LISTS L_LAYERS)
    target_link_libraries(k9_${layer} PUBLIC k9_${dep})
    get_property(dep_allowed GLOBAL PROPERTY K9_LAYER_ALLOWS_${dep})
    if(NOT dep_allowed)
      message(FATAL_ERROR "layer ${layer} names ${dep}, which is not declared before it")
    endif()
    list(APPEND allowed ${dep_allowed})
  endforeach()
  list(REMOVE_DUPLICATES allowed)
  list(SORT allowed)
  target_link_libraries(k9_${layer} PUBLIC ${L_LIBS})
  set_property(GLOBAL PROPERTY K9_LAYER_ALLOWS_${layer} ${allowed})
  string(REPLACE ";" "," allowed_csv "${allowed}")
  set_property(GLOBAL APPEND PROPERTY K9_LAYER_RULES "${layer}:${allowed_csv}")
  set_property(GLOBAL APPEND PROPERTY K9_LAYERS ${layer})
endfunction()

# Runs the include check whenever a file of src/ changes; every layer waits for it.
function(k9_check_layers src_dir)
  get_property(rules GLOBAL PROPERTY K9_LAYER_RULES)
  get_property(layers GLOBAL PROPERTY K9_LAYERS)
  string(REPLACE ";" " " rules_arg "${rules}")
  file(GLOB_RECURSE files CONFIGURE_DEPENDS ${src_dir}/*.hpp ${src_dir}/*.cpp)
  set(stamp ${CMAKE_BINARY_DIR}/layers.checked)
  add_custom_command(OUTPUT ${stamp}
    COMMAND ${CMAKE_COMMAND} "-DSRC=${src_dir}" "-DRULES=${rules_arg}" "-DSTAMP=${stamp}"
            -P ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/check_layers.cmake
    COMMENT "Checking that each layer of src/ includes only the layers it links"
    VERBATIM)
  add_custom_target(k9_layer_check ALL DEPENDS ${stamp})
  foreach(layer IN LISTS layers)
    add_dependencies(k9_${layer} k9_layer_check)
  endforeach()
endfunction()
