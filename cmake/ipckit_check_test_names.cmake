# Runs inside ctest, after the tests that catch_discover_tests registered (tests/CMakeLists.txt
# adds it to TEST_INCLUDE_FILES last). Each Catch2 test case must be one ctest entry; a name
# registered twice means a test case that carries two label tags, or two test executables
# with test cases of the same name. Either way ctest stops here and says which.
#
# Input:  ipckit_test_targets   the test executables
#         ipckit_test_labels    the tags that are labels; catch_discover_tests's TEST_LIST
#                               for each target is <target>_<label>_TESTS, and
#                               <target>_untagged_TESTS for the test cases with none
# ctest reads this with every policy at OLD: hence list(FIND), not if(IN_LIST).

set(_ipckit_seen "")          # every test name so far ...
set(_ipckit_seen_in "")       # ... and the executable it came from
set(_ipckit_errors "")
set(_ipckit_tags "")
foreach(_ipckit_label IN LISTS ipckit_test_labels)
  string(APPEND _ipckit_tags " [${_ipckit_label}]")
endforeach()
foreach(_ipckit_target IN LISTS ipckit_test_targets)
  set(_ipckit_names "")
  foreach(_ipckit_list IN LISTS ipckit_test_labels ITEMS untagged)
    list(APPEND _ipckit_names ${${_ipckit_target}_${_ipckit_list}_TESTS})
  endforeach()
  set(_ipckit_mine "")
  foreach(_ipckit_name IN LISTS _ipckit_names)
    list(FIND _ipckit_mine "${_ipckit_name}" _ipckit_at)
    if(NOT _ipckit_at EQUAL -1)
      string(APPEND _ipckit_errors
        "  '${_ipckit_name}' in ${_ipckit_target}: tagged with more than one of"
        "${_ipckit_tags}; give it exactly one.\n")
    else()
      list(FIND _ipckit_seen "${_ipckit_name}" _ipckit_at)
      if(NOT _ipckit_at EQUAL -1)
        list(GET _ipckit_seen_in ${_ipckit_at} _ipckit_other)
        string(APPEND _ipckit_errors
          "  '${_ipckit_name}': a test case in both ${_ipckit_other} and ${_ipckit_target}; "
          "rename one.\n")
      endif()
      list(APPEND _ipckit_mine "${_ipckit_name}")
      list(APPEND _ipckit_seen "${_ipckit_name}")
      list(APPEND _ipckit_seen_in "${_ipckit_target}")
    endif()
  endforeach()
endforeach()
if(_ipckit_errors)
  message(SEND_ERROR "Catch2 test cases registered more than once:\n${_ipckit_errors}")
endif()
