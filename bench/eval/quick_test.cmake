# ctest entry `eval_quick` (tests/CMakeLists.txt): runs `screen3d-eval --quick` on a synthetic
# corpus, so the suite needs nothing from ../shared. Checks:
#  1. --synthetic-corpus writes a corpus; a manifest row naming a missing file is reported, not fatal;
#  2. a quick run completes (exit 0) and meets modest bars (--min-detection, --max-false-positives);
#  3. a second run with a fresh cache gives byte-identical variant files and an identical report
#     apart from the timing parts ("latency", "run"); a third run reusing the first cache is all
#     cache hits and gives the same report again;
#  4. an unmet bar exits 1.
# Usage: cmake -DEVAL=<screen3d-eval> -DWORK=<scratch dir> -P quick_test.cmake
if(NOT EVAL)
  # The asan preset builds tests without bench/: there is no evaluation tool to check.
  message(STATUS "eval_quick: screen3d-eval is not built in this configuration (S3D_BUILD_BENCH=OFF); nothing to check")
  return()
endif()
if(NOT WORK)
  message(FATAL_ERROR "eval_quick: pass -DWORK=<scratch dir>")
endif()

set(SEED 7)
# Bars: the synthetic parts are clean procedural solids, so rigid and mirror copies of them should
# be found; 0.6 leaves room for a plate or two that the matcher misses, and one false positive among
# ~25 benign parts is tolerated because several benign parts are simple (cylinders, tubes, nuts).
set(BARS --min-detection 0.6 --max-false-positives 1)

file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

execute_process(COMMAND "${EVAL}" --synthetic-corpus "${WORK}/corpus" --seed ${SEED}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "eval_quick: --synthetic-corpus failed (${rc}): ${err}")
endif()
file(APPEND "${WORK}/corpus/MANIFEST.tsv" "syn_missing.stl\tnone\tgenerated\t12\t684\tsyn-missing\n")

function(run_eval name cache)
  execute_process(COMMAND "${EVAL}" --corpus "${WORK}/corpus" --quick --seed ${SEED} --threads 2
                          --cache "${WORK}/${cache}" --out "${WORK}/${name}.json" ${BARS}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  file(WRITE "${WORK}/${name}.txt" "${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "eval_quick: run ${name} exited ${rc}\n${err}\n${out}")
  endif()
  file(READ "${WORK}/${name}.json" json)
  set(${name}_json "${json}" PARENT_SCOPE)
endfunction()

# Drops the timing-dependent members.
function(strip_timing var)
  set(j "${${var}}")
  string(JSON j REMOVE "${j}" latency)
  string(JSON j REMOVE "${j}" run)
  set(${var} "${j}" PARENT_SCOPE)
endfunction()

run_eval(run1 cache_a)
run_eval(run2 cache_b)
run_eval(run3 cache_a)

# Sanity of run 1.
string(JSON n_refs LENGTH "${run1_json}" references)
string(JSON scanned GET "${run1_json}" overall scanned)
string(JSON benign_files GET "${run1_json}" benign files)
string(JSON benign_errors GET "${run1_json}" benign error)
string(JSON problems GET "${run1_json}" corpus problems)
string(JSON plain_files GET "${run1_json}" plain files)
if(plain_files LESS 20)
  message(FATAL_ERROR "eval_quick: only ${plain_files} plain look-alikes scanned (expected at least 4 per reference)")
endif()
if(NOT n_refs EQUAL 5 OR scanned LESS 10 OR benign_files LESS 10)
  message(FATAL_ERROR "eval_quick: unexpected sizes: ${n_refs} references, ${scanned} variants scanned, ${benign_files} benign files")
endif()
if(benign_errors LESS 1 OR NOT problems MATCHES "syn_missing.stl")
  message(FATAL_ERROR "eval_quick: the missing corpus file was not reported (benign errors ${benign_errors}; problems ${problems})")
endif()

# Determinism across caches.
string(JSON misses3 GET "${run3_json}" run cache_misses)
if(NOT misses3 EQUAL 0)
  message(FATAL_ERROR "eval_quick: run 3 regenerated ${misses3} variants instead of reading the cache")
endif()
strip_timing(run1_json)
strip_timing(run2_json)
strip_timing(run3_json)
if(NOT run1_json STREQUAL run2_json)
  message(FATAL_ERROR "eval_quick: two runs with seed ${SEED} gave different reports (see ${WORK}/run1.json, run2.json)")
endif()
if(NOT run1_json STREQUAL run3_json)
  message(FATAL_ERROR "eval_quick: the cached run gave a different report (see ${WORK}/run1.json, run3.json)")
endif()
file(GLOB_RECURSE files_a RELATIVE "${WORK}/cache_a" "${WORK}/cache_a/*")
file(GLOB_RECURSE files_b RELATIVE "${WORK}/cache_b" "${WORK}/cache_b/*")
list(SORT files_a)
list(SORT files_b)
list(LENGTH files_a n_files)
if(n_files LESS 10 OR NOT files_a STREQUAL files_b)
  message(FATAL_ERROR "eval_quick: variant file lists differ or are too short (${n_files})")
endif()
foreach(f IN LISTS files_a)
  file(SHA256 "${WORK}/cache_a/${f}" ha)
  file(SHA256 "${WORK}/cache_b/${f}" hb)
  if(NOT ha STREQUAL hb)
    message(FATAL_ERROR "eval_quick: variant file ${f} differs between two generations")
  endif()
endforeach()

# An unmet bar exits 1: in a one-file corpus a plate has no companions, so nothing is scanned (rate 0).
file(MAKE_DIRECTORY "${WORK}/mini")
file(COPY "${WORK}/corpus/syn_l_bracket_1.stl" DESTINATION "${WORK}/mini")
file(STRINGS "${WORK}/corpus/MANIFEST.tsv" rows)
list(GET rows 0 header)
list(FILTER rows INCLUDE REGEX "^syn_l_bracket_1\\.stl\t")
file(WRITE "${WORK}/mini/MANIFEST.tsv" "${header}\n${rows}\n")
execute_process(COMMAND "${EVAL}" --corpus "${WORK}/mini" --seed ${SEED} --classes plate --refs 1
                        --cache "${WORK}/cache_mini" --min-detection 0.5
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 1)
  message(FATAL_ERROR "eval_quick: an unmet --min-detection bar exited ${rc}, expected 1\n${err}\n${out}")
endif()
message(STATUS "eval_quick: ${n_refs} references, ${scanned} variants, ${benign_files} benign files, ${n_files} cached files; deterministic")
