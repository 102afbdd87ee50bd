//! The HPROF basic types and values.

/// Size in bytes of object identifiers, as the header declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdSize {
    /// 4-byte ids: a 32-bit JVM.
    Four,
    /// 8-byte ids: a 64-bit JVM.
    Eight,
}

impl IdSize {
    /// The size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            IdSize::Four => 4,
            IdSize::Eight => 8,
        }
    }

    /// Reads an id from the front of `input`, which holds at least `self.bytes()` bytes.
    #[inline(always)]
    pub fn read(self, input: &[u8]) -> u64 {
        match self {
            IdSize::Four => u32::from_be_bytes([input[0], input[1], input[2], input[3]]) as u64,
            IdSize::Eight => {
                u64::from_be_bytes([input[0], input[1], input[2], input[3], input[4], input[5], input[6], input[7]])
            }
        }
    }
}

/// A field, static or array element type: the HPROF basic type codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BasicType {
    /// A reference.
    Object = 2,
    /// `boolean`.
    Boolean = 4,
    /// `char`.
    Char = 5,
    /// `float`.
    Float = 6,
    /// `double`.
    Double = 7,
    /// `byte`.
    Byte = 8,
    /// `short`.
    Short = 9,
    /// `int`.
    Int = 10,
    /// `long`.
    Long = 11,
}

impl BasicType {
    /// The eight primitive types, in code order.
    pub const PRIMITIVES: [BasicType; 8] = [
        BasicType::Boolean,
        BasicType::Char,
        BasicType::Float,
        BasicType::Double,
        BasicType::Byte,
        BasicType::Short,
        BasicType::Int,
        BasicType::Long,
    ];

    /// The type with HPROF code `code`.
    pub fn from_code(code: u8) -> Option<BasicType> {
        Some(match code {
            2 => BasicType::Object,
            4 => BasicType::Boolean,
            5 => BasicType::Char,
            6 => BasicType::Float,
            7 => BasicType::Double,
            8 => BasicType::Byte,
            9 => BasicType::Short,
            10 => BasicType::Int,
            11 => BasicType::Long,
            _ => return None,
        })
    }

    /// Size of a value of this type in the file (objects take the id size).
    #[inline]
    pub fn size_in_file(self, id_size: IdSize) -> usize {
        match self {
            BasicType::Object => id_size.bytes(),
            BasicType::Boolean | BasicType::Byte => 1,
            BasicType::Char | BasicType::Short => 2,
            BasicType::Float | BasicType::Int => 4,
            BasicType::Double | BasicType::Long => 8,
        }
    }

    /// The Java source name of the type: `int`, `byte`, ... (`Object` for references).
    pub fn java_name(self) -> &'static str {
        match self {
            BasicType::Object => "java.lang.Object",
            BasicType::Boolean => "boolean",
            BasicType::Char => "char",
            BasicType::Float => "float",
            BasicType::Double => "double",
            BasicType::Byte => "byte",
            BasicType::Short => "short",
            BasicType::Int => "int",
            BasicType::Long => "long",
        }
    }
}

/// One field, static or constant-pool value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A reference: an object id, 0 for null.
    Object(u64),
    /// `boolean`.
    Boolean(bool),
    /// `char`, a UTF-16 unit.
    Char(u16),
    /// `float`.
    Float(f32),
    /// `double`.
    Double(f64),
    /// `byte`.
    Byte(i8),
    /// `short`.
    Short(i16),
    /// `int`.
    Int(i32),
    /// `long`.
    Long(i64),
}

impl Value {
    /// Decodes a value of type `ty` from the front of `input`, which holds at least
    /// `ty.size_in_file(id_size)` bytes.
    pub(crate) fn read(ty: BasicType, input: &[u8], id_size: IdSize) -> Value {
        let be4 = |b: &[u8]| [b[0], b[1], b[2], b[3]];
        let be8 = |b: &[u8]| [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match ty {
            BasicType::Object => Value::Object(id_size.read(input)),
            BasicType::Boolean => Value::Boolean(input[0] != 0),
            BasicType::Byte => Value::Byte(input[0] as i8),
            BasicType::Char => Value::Char(u16::from_be_bytes([input[0], input[1]])),
            BasicType::Short => Value::Short(i16::from_be_bytes([input[0], input[1]])),
            BasicType::Float => Value::Float(f32::from_be_bytes(be4(input))),
            BasicType::Int => Value::Int(i32::from_be_bytes(be4(input))),
            BasicType::Double => Value::Double(f64::from_be_bytes(be8(input))),
            BasicType::Long => Value::Long(i64::from_be_bytes(be8(input))),
        }
    }

    /// The type of the value.
    pub fn basic_type(self) -> BasicType {
        match self {
            Value::Object(_) => BasicType::Object,
            Value::Boolean(_) => BasicType::Boolean,
            Value::Char(_) => BasicType::Char,
            Value::Float(_) => BasicType::Float,
            Value::Double(_) => BasicType::Double,
            Value::Byte(_) => BasicType::Byte,
            Value::Short(_) => BasicType::Short,
            Value::Int(_) => BasicType::Int,
            Value::Long(_) => BasicType::Long,
        }
    }

    /// The object id, for a reference.
    pub fn as_object(self) -> Option<u64> {
        match self {
            Value::Object(id) => Some(id),
            _ => None,
        }
    }

    /// The value as a signed integer, for any integral type.
    pub fn as_i64(self) -> Option<i64> {
        Some(match self {
            Value::Boolean(b) => b as i64,
            Value::Char(c) => c as i64,
            Value::Byte(b) => b as i64,
            Value::Short(s) => s as i64,
            Value::Int(i) => i as i64,
            Value::Long(l) => l,
            _ => return None,
        })
    }
}
