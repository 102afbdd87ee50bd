//! Where references sit inside each class's instances.

use dumpscan_hprof::{BasicType, ClassTable, IdSize};

/// The reference fields of a class's instances, including inherited ones, as byte offsets
/// into the INSTANCE DUMP field data (own fields first, then each super class's).
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// (offset, class that declares the field, field name)
    pub references: Vec<RefField>,
    /// Bytes of field data an instance should have.
    pub len: usize,
}

/// A reference field of a class's instances.
#[derive(Debug, Clone)]
pub struct RefField {
    /// Where the field's value starts in an instance's field bytes.
    pub offset: u32,
    /// The class that declares the field.
    pub declaring_class: u64,
    /// The field's name.
    pub name: Box<str>,
}

impl Layout {
    /// The layout of class `class_id`'s instances: its own fields first, then each super
    /// class's, as an INSTANCE DUMP lays out their values.
    pub fn of(classes: &ClassTable, class_id: u64, id_size: IdSize) -> Layout {
        let mut layout = Layout::default();
        for class in classes.ancestry(class_id) {
            for (name, ty) in &class.fields {
                if *ty == BasicType::Object {
                    layout.references.push(RefField {
                        offset: layout.len as u32,
                        declaring_class: class.id,
                        name: name.clone(),
                    });
                }
                layout.len += ty.size_in_file(id_size);
            }
        }
        layout
    }
}
