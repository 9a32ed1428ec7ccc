//! The DeltaEdit Delta Mapper.
