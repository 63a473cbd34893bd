; Fixture: M486 object labels as PrusaSlicer (names on their own line) and RepRapFirmware
; (quoted A on the S line) write them.
M486 T2
M486 S0
M486 Afirst part
M486 S1 A"second;part"
M486 S-1
G90
M83
G1 Z0.2
G1 X0 Y0
M486 S0
G1 X10 Y0 E0.5
M486 S-1
G1 X20 Y0
M486 S1
G1 X30 Y0 E0.5
M486 S-1
G1 X40 Y0 E0.5 ; no object
