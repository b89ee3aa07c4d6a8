"""initial schema

Revision ID: 7417ef6faf81
Revises:
Create Date: 2026-11-22 22:09:32.737970

"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.*)
from alembic import op


revision: str = '7417ef6faf81'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('team',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_team')),
    sa.UniqueConstraint('slug', name=op.f('uq_team_slug'))
    )
    op.create_table('project',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('length(name) >= 1', name=op.f('ck_project_name_not_empty')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_project_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project')),
    sa.UniqueConstraint('team_id', 'slug', name=op.f('uq_project_team_id_slug'))
    )
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.create_index('ix_project_team_id_created_at', ['team_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_project_team_id_id', ['team_id', 'id'], unique=False)

    op.create_table('worker',
    sa.Column('handle', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('type', sa.Enum('HUMAN', 'AGENT', name='worker_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint("handle LIKE '@%'", name=op.f('ck_worker_handle_at')),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_worker_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_worker')),
    sa.UniqueConstraint('team_id', 'handle', name=op.f('uq_worker_team_id_handle'))
    )
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.create_index('ix_worker_team_id_id', ['team_id', 'id'], unique=False)

    op.create_table('api_token',
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_api_token_team_id_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['worker.id'], name=op.f('fk_api_token_worker_id_worker'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_token_token_hash'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index('ix_api_token_team_id', ['team_id'], unique=False)
        batch_op.create_index('ix_api_token_worker_id', ['worker_id'], unique=False)

    op.create_table('audit_entry',
    sa.Column('action', sa.Enum('CREATE', 'UPDATE', 'DELETE', 'ASSIGN', 'UNASSIGN', name='audit_action', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('entity_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['worker.id'], name=op.f('fk_audit_entry_actor_id_worker'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_audit_entry_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_actor_id', ['actor_id'], unique=False)
        batch_op.create_index('ix_audit_entry_entity', ['team_id', 'entity_type', 'entity_id'], unique=False)
        batch_op.create_index('ix_audit_entry_team_id_id', ['team_id', 'id'], unique=False)

    op.create_table('task',
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('description', sqlmodel.sql.sqltypes.AutoString(length=10000), nullable=True),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('progress_percent', sa.Integer(), nullable=False),
    sa.Column('due_date', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.CheckConstraint('length(title) BETWEEN 1 AND 200', name=op.f('ck_task_title_length')),
    sa.CheckConstraint('parent_id IS NULL OR parent_id <> id', name=op.f('ck_task_not_own_parent')),
    sa.CheckConstraint('priority BETWEEN 0 AND 2', name=op.f('ck_task_priority_rank')),
    sa.CheckConstraint('progress_percent BETWEEN 0 AND 100', name=op.f('ck_task_progress_range')),
    sa.CheckConstraint('status BETWEEN 0 AND 2', name=op.f('ck_task_status_rank')),
    sa.ForeignKeyConstraint(['parent_id'], ['task.id'], name=op.f('fk_task_parent_id_task'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['project.id'], name=op.f('fk_task_project_id_project'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_task_team_id_team'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task'))
    )
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.create_index('ix_task_parent_id', ['parent_id', 'id'], unique=False)
        batch_op.create_index('ix_task_project_id', ['project_id', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_created_at', ['team_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_due_date', ['team_id', 'due_date', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_id', ['team_id', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_priority', ['team_id', 'priority', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_status', ['team_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_task_team_id_updated_at', ['team_id', 'updated_at', 'id'], unique=False)

    op.create_table('task_assignment',
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('worker_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.Enum('ASSIGNEE', 'REVIEWER', name='assignment_role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('assigned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], name=op.f('fk_task_assignment_task_id_task'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['team.id'], name=op.f('fk_task_assignment_team_id_team'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['worker_id'], ['worker.id'], name=op.f('fk_task_assignment_worker_id_worker'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'worker_id', name=op.f('pk_task_assignment'))
    )
    with op.batch_alter_table('task_assignment', schema=None) as batch_op:
        batch_op.create_index('ix_task_assignment_team_id', ['team_id'], unique=False)
        batch_op.create_index('ix_task_assignment_worker_id', ['worker_id', 'task_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('task_assignment', schema=None) as batch_op:
        batch_op.drop_index('ix_task_assignment_worker_id')
        batch_op.drop_index('ix_task_assignment_team_id')

    op.drop_table('task_assignment')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index('ix_task_team_id_updated_at')
        batch_op.drop_index('ix_task_team_id_status')
        batch_op.drop_index('ix_task_team_id_priority')
        batch_op.drop_index('ix_task_team_id_id')
        batch_op.drop_index('ix_task_team_id_due_date')
        batch_op.drop_index('ix_task_team_id_created_at')
        batch_op.drop_index('ix_task_project_id')
        batch_op.drop_index('ix_task_parent_id')

    op.drop_table('task')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_team_id_id')
        batch_op.drop_index('ix_audit_entry_entity')
        batch_op.drop_index('ix_audit_entry_actor_id')

    op.drop_table('audit_entry')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index('ix_api_token_worker_id')
        batch_op.drop_index('ix_api_token_team_id')

    op.drop_table('api_token')
    with op.batch_alter_table('worker', schema=None) as batch_op:
        batch_op.drop_index('ix_worker_team_id_id')

    op.drop_table('worker')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_index('ix_project_team_id_id')
        batch_op.drop_index('ix_project_team_id_created_at')

    op.drop_table('project')
    op.drop_table('team')
