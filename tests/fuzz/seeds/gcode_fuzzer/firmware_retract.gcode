; Fixture: absolute.gcode's squares with firmware retraction (G10/G11) instead of E retracts, plus a
; RepRapFirmware tool-offset G10 (with P) that is not a retraction, and a tool change.
G21
G90
M82
G10 P0 X0 Y0 Z0 ; RepRapFirmware: tool 0 offsets, not a retract
G10 L2 P1 X0 Y0 ; work coordinate setting, not a retract
T0
G92 E0
G1 Z0.2 F3000
G1 X0 Y0 F6000
G1 X10 Y0 E0.5 F1200
G1 X10 Y10 E1.0
G1 X0 Y10 E1.5
G1 X0 Y0 E2.0
G10 ; retract
G1 Z0.6
G1 X5 Y5
G1 Z0.4
G11 ; unretract
T1 ; second extruder from here on
G92 E0
G1 X0 Y0
G1 X10 Y0 E0.5
G1 X10 Y10 E1.0
G1 X0 Y10 E1.5
G1 X0 Y0 E2.0
G10
