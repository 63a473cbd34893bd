// The one list of format readers. Each line names a reader namespace (its code lives in the folder
// geometry/formats/<folder>/, e.g. stl_binary and stl_ascii both in stl/) that defines
// s3d::formats::<folder>::probe and ::read (see reader.h). Adding a format = a folder + a line here.
// Order matters only for ties in probe confidence: earlier wins.
//
// S3D_READER(folder, Format enumerator)
S3D_READER(stl_binary, kStlBinary)
S3D_READER(stl_ascii, kStlAscii)
S3D_READER(threemf, k3mf)
S3D_READER(obj, kObj)
S3D_READER(ply, kPly)
S3D_READER(off, kOff)
S3D_READER(amf, kAmf)
S3D_READER(step, kStep)
S3D_READER(iges, kIges)
S3D_READER(gltf, kGltf)
