# Optional parts of Smaragdine and what decides whether they are built.
#
# Each switch takes AUTO, ON or OFF:
#   AUTO  build the part when what it needs is found; when not, say once what
#         is missing and how to get it, and build everything else (the default:
#         a configure on a machine without LibTorch or Graphviz still succeeds)
#   ON    the part must be built: a missing prerequisite is a configure error
#         (the user asked for it, so a silent "off" would surprise them)
#   OFF   never built
# Caches written before these switches existed hold ON/OFF booleans, which
# keep their meaning.

# smaragdine_switch(<var> <default> <doc>): declares the cache entry and sets
# <var>_MODE to AUTO, ON or OFF in the caller.
function(smaragdine_switch var default doc)
  set(${var} ${default} CACHE STRING "${doc}: AUTO, ON or OFF")
  set_property(CACHE ${var} PROPERTY STRINGS AUTO ON OFF)
  string(TOUPPER "${${var}}" value)
  if(value STREQUAL "AUTO")
    set(mode AUTO)
  elseif(value MATCHES "^(ON|YES|TRUE|Y|1)$")
    set(mode ON)
  elseif(value MATCHES "^(OFF|NO|FALSE|N|0)$")
    set(mode OFF)
  else()
    message(FATAL_ERROR "${var} is '${${var}}': it takes AUTO, ON or OFF")
  endif()
  set(${var}_MODE ${mode} PARENT_SCOPE)
endfunction()

# smaragdine_decide(<var> <have_var> <found> <what> <why_not> <fix>):
# after the search for a part's prerequisites, sets <have_var> (ON/OFF) in the
# caller and says what happened in one line. <found> is TRUE or FALSE; <what>
# names the part and the commands it serves; <why_not> says what was not found;
# <fix> how to get it.
function(smaragdine_decide var have_var found what why_not fix)
  set(mode ${${var}_MODE})
  if(mode STREQUAL "OFF")
    set(have OFF)
    message(STATUS "Smaragdine: ${what}: off (${var}=OFF)")
  elseif(found)
    set(have ON)
    message(STATUS "Smaragdine: ${what}: on")
  elseif(mode STREQUAL "ON")
    message(FATAL_ERROR "Smaragdine: ${var}=ON, but ${why_not}: ${fix}, "
      "or configure with -D${var}=AUTO to build without it")
  else()
    set(have OFF)
    message(STATUS "Smaragdine: ${what}: OFF, ${why_not}; ${fix} and reconfigure to build it")
  endif()
  set(${have_var} ${have} PARENT_SCOPE)
endfunction()
