"""Initial schema: every table of the store (triggers come in 0002).

Revision ID: 0001
Revises:
Create Date: 2026-11-26 04:49:17.864390
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types as of this revision (not imported from the models, which move on).
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """One helper per table (with its indexes); tables with foreign keys come after their targets."""
    _audit_log()
    _boards()
    _commands()
    _connections()
    _daemons()
    _identities()
    _issues()
    _local_changes()
    _mappings()
    _sprints()
    _sync_state()
    _webhook_events()
    _conflicts()
    _field_errors()
    _mapping_versions()


def _audit_log() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('issue_key', sa.String(length=64), nullable=True),
    sa.Column('side', sa.String(length=8), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=True),
    sa.Column('old', JSON, nullable=True),
    sa.Column('new', JSON, nullable=True),
    sa.Column('reason', sa.String(length=255), nullable=True),
    sa.Column('actor', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_at', 'audit_log', ['at'], unique=False)
    op.create_index('ix_audit_log_connection_issue_key', 'audit_log', ['connection', 'issue_key'], unique=False)


def _boards() -> None:
    op.create_table('boards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('jira_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=True),
    sa.Column('project_key', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_boards')),
    sa.UniqueConstraint('connection', 'jira_id', name=op.f('uq_boards_connection_jira_id'))
    )


def _commands() -> None:
    op.create_table('commands',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('args', JSON, nullable=True),
    sa.Column('created_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=True),
    sa.Column('claimed_by', sa.String(length=255), nullable=True),
    sa.Column('claimed_at', TS, nullable=True),
    sa.Column('finished_at', TS, nullable=True),
    sa.Column('result', JSON, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_commands'))
    )
    op.create_index('ix_commands_claimed_by', 'commands', ['claimed_by'], unique=False)


def _connections() -> None:
    op.create_table('connections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('flavor', sa.String(length=16), nullable=True),
    sa.Column('base_url', sa.String(length=512), nullable=True),
    sa.Column('server_version', sa.String(length=64), nullable=True),
    sa.Column('detected_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_connections')),
    sa.UniqueConstraint('name', name=op.f('uq_connections_name'))
    )


def _daemons() -> None:
    op.create_table('daemons',
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=True),
    sa.Column('pid', sa.Integer(), nullable=True),
    sa.Column('version', sa.String(length=64), nullable=True),
    sa.Column('started_at', TS, nullable=True),
    sa.Column('heartbeat_at', TS, nullable=True),
    sa.Column('stopping', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('status', JSON, nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_daemons'))
    )


def _identities() -> None:
    op.create_table('identities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('jira_user', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('internal_id', sa.String(length=255), nullable=True),
    sa.Column('display_name', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identities')),
    sa.UniqueConstraint('connection', 'jira_user', name=op.f('uq_identities_connection_jira_user'))
    )


def _issues() -> None:
    op.create_table('issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('jira_id', sa.String(length=32), nullable=True),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('project_key', sa.String(length=64), nullable=True),
    sa.Column('issue_type', sa.String(length=64), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=128), nullable=True),
    sa.Column('priority', sa.String(length=64), nullable=True),
    sa.Column('assignee', sa.String(length=255), nullable=True),
    sa.Column('labels', JSON, nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('sprint_id', sa.BigInteger(), nullable=True),
    sa.Column('story_points', sa.Float(), nullable=True),
    sa.Column('parent_key', sa.String(length=64), nullable=True),
    sa.Column('fields', JSON, nullable=True),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('base', JSON, nullable=True),
    sa.Column('jira_updated_ms', sa.BigInteger(), nullable=True),
    sa.Column('jira_created_ms', sa.BigInteger(), nullable=True),
    sa.Column('deleted', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('local_dirty', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('local_changed_at', TS, nullable=True),
    sa.Column('sync_stamp', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_issues')),
    sa.UniqueConstraint('connection', 'jira_id', name=op.f('uq_issues_connection_jira_id')),
    sa.UniqueConstraint('connection', 'key', name=op.f('uq_issues_connection_key'))
    )
    op.create_index('ix_issues_connection_jira_updated_ms', 'issues', ['connection', 'jira_updated_ms'], unique=False)
    op.create_index('ix_issues_connection_local_dirty', 'issues', ['connection', 'local_dirty'], unique=False)


def _local_changes() -> None:
    op.create_table('local_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('issue_key', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('value', JSON, nullable=True),
    sa.Column('created_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('processed_at', TS, nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_local_changes'))
    )
    op.create_index('ix_local_changes_connection_processed_at', 'local_changes', ['connection', 'processed_at'], unique=False)


def _mappings() -> None:
    op.create_table('mappings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('jira_field', sa.String(length=255), nullable=True),
    sa.Column('internal_field', sa.String(length=255), nullable=True),
    sa.Column('direction', sa.String(length=8), server_default='both', nullable=False),
    sa.Column('definition', JSON, nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('updated_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_by', sa.String(length=255), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mappings')),
    sa.UniqueConstraint('connection', 'name', name=op.f('uq_mappings_connection_name'))
    )
    op.create_index('uq_mappings_global_name', 'mappings', ['name'], unique=True, sqlite_where=sa.text('connection IS NULL'), postgresql_where=sa.text('connection IS NULL'))


def _sprints() -> None:
    op.create_table('sprints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('jira_id', sa.BigInteger(), nullable=False),
    sa.Column('board_jira_id', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=True),
    sa.Column('goal', sa.Text(), nullable=True),
    sa.Column('start_date', TS, nullable=True),
    sa.Column('end_date', TS, nullable=True),
    sa.Column('complete_date', TS, nullable=True),
    sa.Column('raw', JSON, nullable=True),
    sa.Column('synced_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sprints')),
    sa.UniqueConstraint('connection', 'jira_id', name=op.f('uq_sprints_connection_jira_id'))
    )


def _sync_state() -> None:
    op.create_table('sync_state',
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=64), nullable=False),
    sa.Column('watermark_ms', sa.BigInteger(), nullable=True),
    sa.Column('watermark_keys', JSON, nullable=True),
    sa.Column('cursor', JSON, nullable=True),
    sa.Column('last_started_at', TS, nullable=True),
    sa.Column('last_finished_at', TS, nullable=True),
    sa.Column('last_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('counts', JSON, nullable=True),
    sa.Column('duration_ms', sa.BigInteger(), nullable=True),
    sa.Column('api_calls', sa.Integer(), nullable=True),
    sa.Column('lease_owner', sa.String(length=255), nullable=True),
    sa.Column('lease_expires_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('connection', 'scope', name=op.f('pk_sync_state'))
    )


def _webhook_events() -> None:
    op.create_table('webhook_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=True),
    sa.Column('identifier', sa.String(length=255), nullable=False),
    sa.Column('content_hash', sa.String(length=128), nullable=True),
    sa.Column('event_type', sa.String(length=128), nullable=True),
    sa.Column('issue_key', sa.String(length=64), nullable=True),
    sa.Column('event_ts_ms', sa.BigInteger(), nullable=True),
    sa.Column('received_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('headers', JSON, nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='received', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('next_attempt_at', TS, nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('claimed_by', sa.String(length=255), nullable=True),
    sa.Column('claimed_until', TS, nullable=True),
    sa.Column('processed_at', TS, nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_events')),
    sa.UniqueConstraint('identifier', name=op.f('uq_webhook_events_identifier'))
    )
    op.create_index('ix_webhook_events_received_at', 'webhook_events', ['received_at'], unique=False)
    op.create_index('ix_webhook_events_status_next_attempt_at', 'webhook_events', ['status', 'next_attempt_at'], unique=False)


def _conflicts() -> None:
    op.create_table('conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('connection', sa.String(length=64), nullable=False),
    sa.Column('issue_key', sa.String(length=64), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('base', JSON, nullable=True),
    sa.Column('local', JSON, nullable=True),
    sa.Column('jira', JSON, nullable=True),
    sa.Column('detected_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='open', nullable=False),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolved_value', JSON, nullable=True),
    sa.Column('resolved_by', sa.String(length=255), nullable=True),
    sa.Column('resolved_at', TS, nullable=True),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_conflicts_issue_id_issues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conflicts'))
    )
    op.create_index('ix_conflicts_connection_status', 'conflicts', ['connection', 'status'], unique=False)
    op.create_index('uq_conflicts_open_issue_field', 'conflicts', ['issue_id', 'field'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))


def _field_errors() -> None:
    op.create_table('field_errors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_id', sa.Integer(), nullable=False),
    sa.Column('field', sa.String(length=255), nullable=False),
    sa.Column('mapping', sa.String(length=255), nullable=True),
    sa.Column('step', sa.String(length=255), nullable=True),
    sa.Column('value', JSON, nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_field_errors_issue_id_issues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_field_errors')),
    sa.UniqueConstraint('issue_id', 'field', name=op.f('uq_field_errors_issue_id_field'))
    )


def _mapping_versions() -> None:
    op.create_table('mapping_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mapping_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('definition', JSON, nullable=False),
    sa.Column('changed_at', TS, server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('changed_by', sa.String(length=255), nullable=True),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['mapping_id'], ['mappings.id'], name=op.f('fk_mapping_versions_mapping_id_mappings'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mapping_versions')),
    sa.UniqueConstraint('mapping_id', 'version', name=op.f('uq_mapping_versions_mapping_id_version'))
    )


def downgrade() -> None:
    op.drop_table('mapping_versions')
    op.drop_table('field_errors')
    op.drop_index('uq_conflicts_open_issue_field', table_name='conflicts', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
    op.drop_index('ix_conflicts_connection_status', table_name='conflicts')
    op.drop_table('conflicts')
    op.drop_index('ix_webhook_events_status_next_attempt_at', table_name='webhook_events')
    op.drop_index('ix_webhook_events_received_at', table_name='webhook_events')
    op.drop_table('webhook_events')
    op.drop_table('sync_state')
    op.drop_table('sprints')
    op.drop_index('uq_mappings_global_name', table_name='mappings', sqlite_where=sa.text('connection IS NULL'), postgresql_where=sa.text('connection IS NULL'))
    op.drop_table('mappings')
    op.drop_index('ix_local_changes_connection_processed_at', table_name='local_changes')
    op.drop_table('local_changes')
    op.drop_index('ix_issues_connection_local_dirty', table_name='issues')
    op.drop_index('ix_issues_connection_jira_updated_ms', table_name='issues')
    op.drop_table('issues')
    op.drop_table('identities')
    op.drop_table('daemons')
    op.drop_table('connections')
    op.drop_index('ix_commands_claimed_by', table_name='commands')
    op.drop_table('commands')
    op.drop_table('boards')
    op.drop_index('ix_audit_log_connection_issue_key', table_name='audit_log')
    op.drop_index('ix_audit_log_at', table_name='audit_log')
    op.drop_table('audit_log')
