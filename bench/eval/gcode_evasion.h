#pragma once
// What the evaluation's G-code classes do to a slicer's output (pure text functions, shared with the
// tests): comment stripping, and rewrites after which a printer with a given firmware still prints
// the same part in the same place while a naive reader sees scrambled layers or nothing. Depends on
// nothing but the standard library and rng.h.
#include <cstdint>
#include <string>

namespace s3d::eval {

// The slicer's timestamp line made constant (so the same request gives the same bytes); with
// `strip`, every comment removed (';' to the end of the line, then blank lines), as an evader would:
// no ;LAYER, ;WIDTH, ;TYPE or object labels left.
std::string postprocess_gcode(const std::string& text, bool strip);

// Marlin (class gcode-evasive): after every move that changes Z an M206 home offset with a new
// random XY shift, every later X/Y written shifted by it; every extruding G1 with X or Y turned into
// G5 (Marlin's Bezier with its control points on its ends: the same straight line).
std::string evade_gcode_marlin(const std::string& text, uint64_t seed);

// Class gcode-firmware: transforms of the firmware itself undo a per-layer distortion.
//  kRepRap: after every move that changes Z, "G68 A.. B.. R.." (rotation about a random centre by a
//    random angle) and "M579 X.. Y.." (random factors 0.6-1.6); every later X/Y (and arc I/J) written
//    so that RepRapFirmware's rotation and scaling put it back where the slicer had it.
//  kKlipper: every other layer shifted by a random XY (up to 40 mm each way) with
//    "SAVE_GCODE_STATE" + "G92 X.. Y.." at the head's true point, undone only by
//    "RESTORE_GCODE_STATE" at the next Z move.
//  kMarlinSkew, kKlipperSkew: one skew for the whole file, set at its start ("M852 I.. J.. K..",
//    factors in [-0.6, 0.6]; "SET_SKEW XY=ac,bd,ad XZ=.. YZ=.." measured on a calibration square
//    whose corners came out at 60-120 degrees), every X/Y written skewed back for its height: read
//    naively, the part is sheared and leans.
enum class Firmware { kRepRap, kKlipper, kMarlinSkew, kKlipperSkew };
std::string evade_gcode_firmware(const std::string& text, Firmware fw, uint64_t seed);

}  // namespace s3d::eval
