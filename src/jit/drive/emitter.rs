//! The state of one driver function being built: the builder, the frame layout grown as the
//! code asks for words, the signatures of what it calls, and the small pieces every part of
//! a driver uses (frame words, operand addresses, copies, checked calls).

use crate::jit::run::driver::{copy_bytes, zero_bytes, Driver};
use crate::jit::run::frame::Word;
use cranelift_codegen::ir::{types, AbiParam, Block, InstBuilder, MemFlagsData, SigRef, Signature, Type, Value};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::FunctionBuilder;
use std::sync::Arc;

/// Copies of at most this many bytes are loads and stores in line; longer ones call
/// [`copy_bytes`].
const INLINE_COPY_BYTES: usize = 64;

/// The signatures a driver calls through.
pub(super) struct Signatures {
    /// A kernel function: `(table)`.
    pub kernel: SigRef,
    /// A driver: `(words, io) -> status`.
    pub driver: SigRef,
    /// `step_on_host(program, step, table) -> status`.
    pub host_step: SigRef,
    /// `ran_past(name, length, steps) -> status`.
    pub ran_past: SigRef,
    /// `grow_kept(store, words, steps) -> status`.
    pub grow: SigRef,
    /// `copy_bytes(dst, src, n)`.
    pub copy: SigRef,
    /// `zero_bytes(dst, n)`.
    pub zero: SigRef,
}

/// A driver function being built (see the module's doc).
pub(super) struct DriverEmitter<'f> {
    pub b: FunctionBuilder<'f>,
    pub ptr: Type,
    /// The frame's words and the operand and result addresses (the function's parameters).
    words: Value,
    io: Value,
    /// The frame layout so far, and its length in words.
    pub layout: Vec<Word>,
    used: usize,
    pub sigs: Signatures,
    /// The block that returns its status parameter.
    fail: Block,
    /// The address and length of the loop's name (the bytes of a `String` the driver owns),
    /// for its errors.
    pub name: (usize, usize),
    /// The drivers of nested loops its code calls.
    pub children: Vec<Arc<Driver>>,
}

/// A signature of `params` pointer-sized parameters and maybe an `i32` status.
pub(super) fn signature(call_conv: CallConv, ptr: Type, params: usize, status: bool) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend((0..params).map(|_| AbiParam::new(ptr)));
    if status {
        sig.returns.push(AbiParam::new(types::I32));
    }
    sig
}

impl<'f> DriverEmitter<'f> {
    /// A driver function's entry block, its parameters, and the failure block.
    pub(super) fn new(
        mut b: FunctionBuilder<'f>,
        call_conv: CallConv,
        ptr: Type,
        name: (usize, usize),
    ) -> DriverEmitter<'f> {
        let mut sig = |params, status| b.import_signature(signature(call_conv, ptr, params, status));
        let sigs = Signatures {
            kernel: sig(1, false),
            driver: sig(2, true),
            host_step: sig(3, true),
            ran_past: sig(3, true),
            grow: sig(3, true),
            copy: sig(3, false),
            zero: sig(2, false),
        };
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        let fail = b.create_block();
        b.append_block_param(fail, types::I32);
        b.switch_to_block(entry);
        let (words, io) = (b.block_params(entry)[0], b.block_params(entry)[1]);
        DriverEmitter { b, ptr, words, io, layout: Vec::new(), used: 0, sigs, fail, name, children: Vec::new() }
    }

    /// Adds `w` to the frame layout: the index of its first word.
    pub(super) fn word(&mut self, w: Word) -> usize {
        let at = self.used;
        self.used += w.words();
        self.layout.push(w);
        at
    }

    /// Loads frame word `at`; `fixed` when nothing writes it while the driver runs.
    pub(super) fn load_word(&mut self, at: usize, fixed: bool) -> Value {
        let flags = if fixed { MemFlagsData::trusted().with_readonly() } else { MemFlagsData::trusted() };
        self.b.ins().load(self.ptr, flags, self.words, (8 * at) as i32)
    }

    /// The address of frame word `at`.
    pub(super) fn word_address(&mut self, at: usize) -> Value {
        self.b.ins().iadd_imm_s(self.words, (8 * at) as i64)
    }

    /// The frame's words (the function's first parameter).
    pub(super) fn words(&self) -> Value {
        self.words
    }

    /// Operand or result address `k` of the io array.
    pub(super) fn io(&mut self, k: usize) -> Value {
        self.b.ins().load(self.ptr, MemFlagsData::trusted().with_readonly(), self.io, (8 * k) as i32)
    }

    /// Loads the pointer at `base + 8 * index`.
    pub(super) fn load_at(&mut self, base: Value, index: usize) -> Value {
        self.b.ins().load(self.ptr, MemFlagsData::trusted(), base, (8 * index) as i32)
    }

    /// Stores pointer `v` at `base + 8 * index`.
    pub(super) fn store_at(&mut self, v: Value, base: Value, index: usize) {
        self.b.ins().store(MemFlagsData::trusted(), v, base, (8 * index) as i32);
    }

    /// A pointer-sized constant.
    pub(super) fn constant(&mut self, v: usize) -> Value {
        self.b.ins().iconst(self.ptr, v as i64)
    }

    /// `base + index * stride` (the address of row `index`).
    pub(super) fn row(&mut self, base: Value, index: Value, stride: usize) -> Value {
        let off = self.b.ins().imul_imm_s(index, stride as i64);
        self.b.ins().iadd(base, off)
    }

    /// Copies `n` bytes from `src` to `dst` (not overlapping).
    pub(super) fn copy(&mut self, dst: Value, src: Value, n: usize) {
        if n == 0 {
            return;
        }
        if n > INLINE_COPY_BYTES {
            let (f, n) = (self.constant(copy_bytes as *const () as usize), self.constant(n));
            self.b.ins().call_indirect(self.sigs.copy, f, &[dst, src, n]);
            return;
        }
        let mut off = 0;
        for (width, ty) in [(8, types::I64), (4, types::I32), (2, types::I16), (1, types::I8)] {
            while n - off >= width {
                let v = self.b.ins().load(ty, MemFlagsData::new().with_notrap(), src, off as i32);
                self.b.ins().store(MemFlagsData::new().with_notrap(), v, dst, off as i32);
                off += width;
            }
        }
    }

    /// Zeroes `n` bytes at `dst`.
    pub(super) fn zero(&mut self, dst: Value, n: usize) {
        if n == 0 {
            return;
        }
        let (f, n) = (self.constant(zero_bytes as *const () as usize), self.constant(n));
        self.b.ins().call_indirect(self.sigs.zero, f, &[dst, n]);
    }

    /// Calls `f` (through `sig`, returning a status) and goes on only when the status is 0:
    /// otherwise the driver returns it.
    pub(super) fn call_checked(&mut self, sig: SigRef, f: Value, args: &[Value]) {
        let call = self.b.ins().call_indirect(sig, f, args);
        let status = self.b.inst_results(call)[0];
        self.return_if_failed(status);
    }

    /// Returns `status` from the driver when it is not 0.
    pub(super) fn return_if_failed(&mut self, status: Value) {
        let ok = self.b.create_block();
        self.b.ins().brif(status, self.fail, &[status.into()], ok, &[]);
        self.b.switch_to_block(ok);
    }

    /// Returns status 0 from the current block.
    pub(super) fn return_ok(&mut self) {
        let zero = self.b.ins().iconst(types::I32, 0);
        self.b.ins().return_(&[zero]);
    }

    /// Ends the function: the failure block, every block sealed.
    pub(super) fn finish(mut self, config: TargetFrontendConfig) -> (Vec<Word>, Vec<Arc<Driver>>) {
        self.b.switch_to_block(self.fail);
        let status = self.b.block_params(self.fail)[0];
        self.b.ins().return_(&[status]);
        self.b.seal_all_blocks();
        self.b.finalize(config);
        (self.layout, self.children)
    }
}
