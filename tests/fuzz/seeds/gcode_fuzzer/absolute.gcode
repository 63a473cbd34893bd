; Fixture: two layers of a 10 mm square, absolute XYZ and absolute E (Marlin, M82).
; Layer 1 at z=0.2, layer 2 at z=0.4; each side pushes 0.5 mm of filament.
; A retract, a z hop and travel sit between the layers; none of them is extrusion.
G21 ; millimetres
G90
M82
G28
G92 E0
G1 Z0.2 F3000
G1 X0 Y0 F6000
G1 X10 Y0 E0.5 F1200
G1 X10 Y10 E1.0
G1 X0 Y10 E1.5
G1 X0 Y0 E2.0
G1 E1.2 F2400 ; retract
G1 Z0.6 ; z hop
G1 X5 Y5 ; travel at the hop height
G1 Z0.4
G1 E2.0 ; unretract: no XY motion, not extrusion
G92 E0
G1 X0 Y0
G1 X10 Y0 E0.5
G1 X10 Y10 E1.0
G1 X0 Y10 E1.5
G1 X0 Y0 E2.0
G1 E1.2 ; retract
G1 Z10 ; lift at the end: travel, no layer
M84
